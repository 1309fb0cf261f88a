/**
 * SmoothGrad (Smilkov et al. 2017): the mean gradient over `samples` copies of the instance with
 * Gaussian noise of standard deviation noiseLevel * (max(x) - min(x)) added to every input (the
 * paper's 10-20 % of the value range). The noise comes from a seeded generator in JS, so an
 * answer is reproducible and the same on every backend. All noisy copies of all instances are one
 * row stream, chunked to fit the memory budget.
 */
import { BadRequestError } from '../../errors.js';
import type { Attribution, ExplainContext } from './context.js';
import { gradientRows } from './modelFunction.js';
import { gaussian } from '../../random.js';
import { mapValues } from '../../tensors/mapValues.js';
import { LIMITS, type ExplainRequest, type SmoothGradParams } from './request.js';

const SMOOTHGRAD_DEFAULTS = { noiseLevel: 0.15, samples: 50, seed: 0 } as const;

export async function smoothGrad(context: ExplainContext, request: ExplainRequest): Promise<{ attributions: Attribution[]; params: SmoothGradParams }> {
  const { loaded, space, instances, rules, limits } = context;
  const params: SmoothGradParams = {
    noiseLevel: request.noiseLevel ?? SMOOTHGRAD_DEFAULTS.noiseLevel,
    samples: request.samples ?? SMOOTHGRAD_DEFAULTS.samples,
    seed: request.seed ?? SMOOTHGRAD_DEFAULTS.seed,
  };
  const { samples } = params;
  const rowCount = instances.count * samples;
  if (rowCount > LIMITS.gradientRows) {
    throw new BadRequestError(`${instances.count} instances x ${samples} samples = ${rowCount} gradient rows; one request may take ${LIMITS.gradientRows}`);
  }
  const { size } = space;
  const x = instances.data;
  const sigma = Array.from({ length: instances.count }, (_, i) => {
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < size; j++) {
      min = Math.min(min, x[i * size + j]);
      max = Math.max(max, x[i * size + j]);
    }
    return params.noiseLevel * (max > min ? max - min : 1);
  });
  const noise = gaussian(params.seed);
  const sums = Array.from({ length: instances.count }, () => new Float64Array(size));
  await gradientRows(
    loaded,
    space,
    rowCount,
    (from, to, out) => {
      // Chunks are produced in order, so the generator's stream is the same however rows are chunked.
      for (let r = from; r < to; r++) {
        const i = Math.floor(r / samples);
        const offset = (r - from) * size;
        for (let j = 0; j < size; j++) out[offset + j] = x[i * size + j] + sigma[i] * noise();
      }
    },
    (r) => rules[Math.floor(r / samples)],
    limits,
    ({ from, gradients }) => {
      for (let k = 0; k < gradients.length / size; k++) {
        const sum = sums[Math.floor((from + k) / samples)];
        for (let j = 0; j < size; j++) sum[j] += gradients[k * size + j];
      }
    },
  );
  const attributions = sums.map((sum, i): Attribution => ({ values: mapValues(Float32Array, sum, (v) => v / samples), extra: { noiseStd: sigma[i] } }));
  return { attributions, params };
}
