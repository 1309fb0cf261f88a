/**
 * Saliency (Simonyan et al. 2013): the gradient of the target score at the instance, signed.
 * Heatmaps and rankings use its magnitude; the sign says which way a small change would move the score.
 */
import type { Attribution, ExplainContext } from './context.js';
import { gradientRows } from './modelFunction.js';

export async function saliency(context: ExplainContext): Promise<{ attributions: Attribution[]; params: Record<string, never> }> {
  const { loaded, space, instances, rules, limits } = context;
  const values = Array.from({ length: instances.count }, () => new Float32Array(space.size));
  await gradientRows(
    loaded,
    space,
    instances.count,
    (from, to, out) => out.set(instances.data.subarray(from * space.size, to * space.size)),
    (r) => rules[r],
    limits,
    ({ from, gradients }) => {
      for (let k = 0; k < gradients.length / space.size; k++) values[from + k].set(gradients.subarray(k * space.size, (k + 1) * space.size));
    },
  );
  return { attributions: values.map((v) => ({ values: v, extra: {} })), params: {} };
}
