/**
 * Triton's classification extension (docs/protocol/extension_classification.md): an output asked
 * with `parameters.classification: k` comes back as BYTES of shape [rows, min(k, classes)], each
 * row's k highest values as "value:index[:label]", as Triton's server builds it (classification.cc):
 * a float value printed as C's %f (std::to_string), an integer as %d, the index into the output's
 * row, the label only where the model has one for that index.
 */
import { BadRequestError, quoted } from '../errors.js';
import { checkFiniteOutput } from './answers.js';
import type { OutputTensor } from './binaryData.js';

/** The count asked for an output: undefined when none (Triton takes 0 as none too), else a 400 for what is not a count. */
export function classificationCount(parameters: Record<string, unknown> | undefined, where: string): number | undefined {
  const value = parameters?.classification;
  if (value === undefined || value === 0) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new BadRequestError(`${where}.parameters.classification: expected a number of classes (a whole number), got ${quoted(value)}`);
  }
  return value;
}

/**
 * A float as C's printf("%f") writes it: six decimals, an exact tie rounded to even (glibc rounds
 * the exact binary value; toFixed takes the larger of two equally near). A float32 times 2e6 is
 * exact in a double, so a tie is seen exactly. Past 1e21 toFixed switches to exponents; such a
 * float32 is a whole number.
 */
export function printfF(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Math.abs(x) >= 1e21) return `${BigInt(x)}.000000`;
  if (Object.is(x, -0)) return '-0.000000';
  const twice = x * 2e6;
  if (Number.isInteger(twice) && twice % 2 !== 0) {
    const down = (twice - Math.sign(twice)) / 2; // toward zero
    const even = down % 2 === 0 ? down : down + Math.sign(twice);
    return (even / 1e6).toFixed(6);
  }
  return x.toFixed(6);
}

/** The output as Triton's classification answers it; `labels` when they name this output's indices. */
export function classify(output: OutputTensor, k: number, labels: string[] | undefined, where: string): OutputTensor {
  if (output.datatype !== 'FP32' && output.datatype !== 'INT32') {
    throw new BadRequestError(`${where}: classification is not available for output ${output.name} of datatype ${output.datatype}: it ranks numbers`);
  }
  const rows = output.shape.length > 0 ? output.shape[0] : undefined;
  const values = output.data as ArrayLike<number>;
  // Ranking NaN has no order: the 422 the label output gives.
  checkFiniteOutput({ name: output.name, dtype: 'float32', shape: rows === undefined ? [1, values.length] : output.shape, data: values }, (r) => `row ${r}`);
  const width = rows === undefined ? values.length : rows === 0 ? 0 : values.length / rows;
  const count = Math.min(k, width);
  const named = labels?.length === width ? labels : undefined;
  const format = output.datatype === 'FP32' ? printfF : String;
  const data: string[] = [];
  for (let r = 0; r < (rows ?? 1); r += 1) {
    const at = r * width;
    // Highest first; equal values in index order.
    const order = Array.from({ length: width }, (_, i) => i).sort((a, b) => values[at + b] - values[at + a] || a - b);
    for (const i of order.slice(0, count)) data.push(`${format(values[at + i])}:${i}${named ? `:${named[i]}` : ''}`);
  }
  return { name: output.name, datatype: 'BYTES', shape: rows === undefined ? [count] : [rows, count], data };
}
