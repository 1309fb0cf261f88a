/**
 * Integrated gradients (Sundararajan et al. 2017): attribution_j = (x_j - b_j) * integral over
 * alpha in [0, 1] of d score / d x_j at b + alpha (x - b), by quadrature (quadrature.ts).
 *
 * Every instance's path points are rows of one stream fed to the model in chunks that fit the memory budget
 * rows (forward and backward passes over whole batches, never one call per step). The answer
 * carries the convergence delta = sum(attributions) - (f(x) - f(baseline)): completeness says it
 * is 0, so its size is the quadrature error.
 */
import { BadRequestError } from '../../errors.js';
import type { Attribution, ExplainContext } from './context.js';
import { forwardRows, gradientRows } from './modelFunction.js';
import { gaussLegendre, trapezoid } from './quadrature.js';
import { checkReferenceOutputs } from './finite.js';
import { baselinePlace, baselineRow, type BaselineKind } from './reference.js';
import { LIMITS, type ExplainRequest, type IntegratedGradientsParams } from './request.js';
import { scoreOf } from './target.js';

const IG_DEFAULTS = { steps: 50, integration: 'gaussLegendre' } as const;

export async function integratedGradients(context: ExplainContext, request: ExplainRequest): Promise<{ attributions: Attribution[]; params: IntegratedGradientsParams }> {
  const { loaded, space, instances, rules, limits } = context;
  const steps = request.steps ?? IG_DEFAULTS.steps;
  const integration = request.integration ?? IG_DEFAULTS.integration;
  const rowCount = instances.count * steps;
  if (rowCount > LIMITS.gradientRows) {
    throw new BadRequestError(
      `${instances.count} instances x ${steps} steps = ${rowCount} gradient rows; one request may take ${LIMITS.gradientRows}: send fewer instances or steps`,
    );
  }
  const { row: baseline, kind } = await baselineRow(loaded.manifest, space, request.baseline, limits.budget);
  const { alphas, weights } = integration === 'trapezoid' ? trapezoid(steps) : gaussLegendre(steps);
  const { size } = space;
  const x = instances.data;

  const baselineOutput = await forwardRows(loaded, space, 1, (_from, _to, out) => out.set(baseline), limits);
  // Before the gradient passes: f(baseline) is one end of completeness, NaN there is no explanation.
  checkReferenceOutputs(baselineOutput.outputs, baselineOutput.width, () => baselinePlace(kind));
  const sums = Array.from({ length: instances.count }, () => new Float64Array(size));
  await gradientRows(
    loaded,
    space,
    rowCount,
    (from, to, out) => {
      for (let r = from; r < to; r++) {
        const i = Math.floor(r / steps);
        const alpha = alphas[r % steps];
        const offset = (r - from) * size;
        for (let j = 0; j < size; j++) out[offset + j] = baseline[j] + alpha * (x[i * size + j] - baseline[j]);
      }
    },
    (r) => rules[Math.floor(r / steps)],
    limits,
    ({ from, gradients }) => {
      const rows = gradients.length / size;
      for (let k = 0; k < rows; k++) {
        const r = from + k;
        const sum = sums[Math.floor(r / steps)];
        const w = weights[r % steps];
        for (let j = 0; j < size; j++) sum[j] += w * gradients[k * size + j];
      }
    },
  );

  const attributions = sums.map((sum, i): Attribution => {
    const values = new Float32Array(size);
    let total = 0;
    for (let j = 0; j < size; j++) {
      values[j] = (x[i * size + j] - baseline[j]) * sum[j];
      total += values[j];
    }
    const baselineScore = scoreOf(rules[i], baselineOutput.outputs);
    const delta = total - (context.scores[i] - baselineScore);
    return { values, extra: { baselineScore, convergenceDelta: delta } };
  });
  return { attributions, params: { baseline: kind as BaselineKind, steps, integration } };
}
