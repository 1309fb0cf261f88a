/**
 * What explaining natural instances holds besides their rows (inputs/budget.ts's RunNeed), counted
 * with them when they are encoded: without it, the number of instances a 413 said fit filled the
 * budget once encoded, and the method's first pass was refused ("one row of a forward and backward
 * pass ... may need up to 21 MB; this function can give 16 MB", in a 256 MB function).
 */
import type { RunNeed } from '../../inputs/budget.js';
import type { LoadedModel } from '../../loader/index.js';
import type { Pass, RunLimits } from '../../runtime/memory.js';
import { passCallBytes } from './modelFunction.js';
import type { ExplainMethod, ExplainRequest } from './request.js';

/** The pass a method runs its rows through: kernelShap needs model outputs alone, the others gradients. */
export const passOf = (method: ExplainMethod): Pass => (method === 'kernelShap' ? 'forward' : 'gradient');

/**
 * The method's arrays of a row's size kept per instance until the answer: its attributions
 * (float32); integrated gradients' and SmoothGrad's sums besides (float64: two rows' worth).
 */
const ROWS_PER_INSTANCE: Record<ExplainMethod, number> = { saliency: 1, integratedGradients: 3, smoothGrad: 3, kernelShap: 1 };

/**
 * The reference rows a method holds throughout: integrated gradients' baseline, kernelShap's
 * background (a request's, encoded and then copied row by row: two each; else the manifest's
 * stored sample, or one row).
 */
function referenceRows(loaded: LoadedModel, request: ExplainRequest): number {
  if (request.method === 'integratedGradients') return 1;
  if (request.method !== 'kernelShap') return 0;
  return request.background ? 2 * request.background.length : (loaded.manifest.background?.length ?? 1);
}

/** Besides instances of `rowShape`: one call of the method's pass and its reference rows, and the method's arrays per instance. */
export function explainNeed(loaded: LoadedModel, request: ExplainRequest, limits: RunLimits, rowShape: readonly number[]): RunNeed {
  const rowBytes = 4 * rowShape.reduce((a, b) => a * b, 1);
  return {
    perCall: passCallBytes(loaded, passOf(request.method), limits, rowShape) + referenceRows(loaded, request) * rowBytes,
    perRow: ROWS_PER_INSTANCE[request.method] * rowBytes,
    what: `explaining {them} (${request.method})`,
  };
}
