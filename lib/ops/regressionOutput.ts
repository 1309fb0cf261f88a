/**
 * Evaluating and fine-tuning a regression model compare one value per example with its label. A
 * regression model whose output holds more per example (an upscaler's 2H x 2W x 3 pixels, a
 * sequence) has no such value: evaluate took the first of them and answered the metrics of one
 * pixel, and fine-tuning broadcast the label over every value. Both are refused, in the words
 * TF Serving's :regress uses for the same output.
 */
import { BadRequestError } from '../errors.js';
import type { Manifest } from '../registry/index.js';

export type LabelledOperation = 'evaluate' | 'fine-tuning';

function refusal(manifest: Manifest, operation: LabelledOperation, values: string): BadRequestError {
  const output = manifest.signature.outputs[0];
  return new BadRequestError(
    `${operation} compares one value per example with its label, and ${manifest.name}'s output ${output.name} has ${values} values per example (shape ${output.shape === null ? 'unknown' : `[${output.shape}]`}), not one: use predict (infer) for them`,
  );
}

/**
 * From the signature, before any work: a regression output with a dimension past the batch one
 * above 1 is refused. `unknown` says what to do when a dimension is variable (-1) or the rank
 * unsaid: evaluate checks each chunk's output instead (checkRegressionRow), while fine-tuning,
 * whose loss would broadcast, needs to know now.
 */
export function checkOneValuePerExample(manifest: Manifest, operation: LabelledOperation, unknown: 'allow' | 'refuse'): void {
  if (manifest.task !== 'regression') return;
  const { shape } = manifest.signature.outputs[0];
  const dims = shape?.slice(1);
  const known = dims?.filter((d) => d >= 0) ?? [];
  const product = known.reduce((a, b) => a * b, 1);
  const variable = dims === undefined || known.length < dims.length;
  if (product > 1) throw refusal(manifest, operation, variable ? `at least ${product}` : String(product));
  if (variable && unknown === 'refuse') throw refusal(manifest, operation, 'an unknown number of');
}

/** A chunk's output, when the signature left its size open: `size` values per example. */
export function checkRegressionRow(manifest: Manifest, size: number): void {
  if (size !== 1) throw refusal(manifest, 'evaluate', String(size));
}
