/**
 * An explanation is numbers a client sums and ranks; NaN or Infinity among them (null in JSON) is
 * none, and never answered as a 200. The model's outputs at the instances are checked before any
 * attribution (service.ts). Here: its outputs at the rows an explanation compares against (the
 * integrated-gradients baseline, the kernelShap background), with the same check and words, and
 * the attributions themselves, which come from rows the method makes (points on the path, noisy
 * copies, coalitions mixing an instance with a background row) and from gradients: either can
 * overflow float32 where the instance and the reference do not.
 */
import { UnprocessableError } from '../../errors.js';
import { checkFiniteOutput, namedRows } from '../../protocol/answers.js';
import type { Attribution } from './context.js';
import type { ExplainMethod } from './request.js';

/** A 422 naming the reference rows (`place`: how messages name row r) whose output ([rows][width], flat) is not finite. */
export function checkReferenceOutputs(outputs: Float32Array, width: number, place: (r: number) => string): void {
  checkFiniteOutput({ name: 'output', dtype: 'float32', shape: [outputs.length / width, width], data: outputs }, place);
}

/** The rows each method runs the model on (and takes gradients at), as messages name them. */
const FED: Record<ExplainMethod, string> = {
  integratedGradients: 'the path from the baseline to the instance',
  saliency: 'the instance',
  smoothGrad: "the instance's noisy copies",
  kernelShap: "the instance's features mixed with the background's",
};

function finite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(finite);
  return true; // names, flags
}

/** A 422 naming the instances whose attributions (or the numbers beside them: a baseline score, an expected value) are not finite. */
export function checkFiniteAttributions(method: ExplainMethod, attributions: Attribution[]): void {
  const bad = attributions.flatMap((a, i) => (a.values.every((v) => Number.isFinite(v)) && Object.values(a.extra).every(finite) ? [] : [i]));
  if (bad.length === 0) return;
  throw new UnprocessableError(
    `${namedRows(bad, (i) => `instances[${i}]`)}: the model's output or its gradient is not a finite number (NaN or Infinity: values overflow inside the model) on ${FED[method]}, so its ${method} attributions are not finite numbers and there is no explanation`,
  );
}
