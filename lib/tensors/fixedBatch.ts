/**
 * Models whose signature fixes the batch dimension (MoveNet's [1, 192, 192, 3], an SSD's
 * [1, -1, -1, 3], as converters often write them): TF.js refuses them any other number of rows, so
 * requests of any number of rows run in calls of exactly that many, the last one padded.
 */
import { elementCount, type TensorData, type TensorSpec } from './data.js';

/** The batch size the model's inputs fix (the first dimension of one with rows), if any. */
export function fixedBatchOf(specs: readonly TensorSpec[]): number | undefined {
  const fixing = specs.find((s) => s.shape !== null && s.shape.length > 0 && s.shape[0] > 0);
  return fixing?.shape?.[0];
}

/** A spec's shape with its first dimension free: what a request may send, since rows are fed in calls of the model's batch size. */
export function anyRows(shape: readonly number[] | null): readonly number[] | null {
  return shape === null || shape.length === 0 ? shape : [-1, ...shape.slice(1)];
}

/**
 * `t` with its last row repeated until it has `rows`: a short last chunk, padded to the fixed batch
 * size. A copy of a real row, not zeros: values the model takes (an int32 image's, a token id's).
 */
export function padRows(t: TensorData, rows: number): TensorData {
  const have = t.shape[0];
  const rowSize = elementCount(t.shape.slice(1));
  const length = rows * rowSize;
  // Of the rows' own kind: a typed array stays one (4 bytes a value, as the budget counts), not a JS array of numbers.
  const source = t.data;
  const at = (i: number) => (i < have * rowSize ? i : (have - 1) * rowSize + (i % rowSize));
  let data: TensorData['data'];
  if (ArrayBuffer.isView(source)) {
    const typed = source as Float32Array | Int32Array;
    const out = new (typed.constructor as new (n: number) => Float32Array | Int32Array)(length);
    for (let i = 0; i < length; i += 1) out[i] = typed[at(i)];
    data = out;
  } else data = Array.from({ length }, (_, i) => source[at(i)]);
  return { ...t, shape: [rows, ...t.shape.slice(1)], data };
}
