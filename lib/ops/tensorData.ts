/** Tensors as plain data: what protocols decode to and encode from, and what ops take and give. */
import type { Scalar } from '../protocol/nested.js';

export type TensorDtype = 'float32' | 'int32' | 'bool' | 'string';

export interface TensorData {
  name: string;
  shape: number[];
  dtype: TensorDtype;
  data: ArrayLike<Scalar>;
}

export function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Rows [from, to) of a tensor along its first dimension. */
export function sliceRows(t: TensorData, from: number, to: number): TensorData {
  const rowSize = elementCount(t.shape.slice(1));
  const data = Array.isArray(t.data) ? t.data.slice(from * rowSize, to * rowSize) : (t.data as Float32Array).subarray(from * rowSize, to * rowSize);
  return { ...t, shape: [to - from, ...t.shape.slice(1)], data };
}

/** Concatenates same-named chunks along the first dimension, in order. */
export function concatRows(chunks: TensorData[]): TensorData {
  const [first] = chunks;
  const rows = chunks.reduce((n, c) => n + c.shape[0], 0);
  const data: Scalar[] | Float32Array | Int32Array =
    first.dtype === 'float32' ? new Float32Array(elementCount([rows, ...first.shape.slice(1)])) : first.dtype === 'int32' ? new Int32Array(elementCount([rows, ...first.shape.slice(1)])) : [];
  let offset = 0;
  for (const chunk of chunks) {
    if (Array.isArray(data)) data.push(...Array.from(chunk.data));
    else (data as Float32Array).set(chunk.data as ArrayLike<number>, offset);
    offset += chunk.data.length;
  }
  return { ...first, shape: [rows, ...first.shape.slice(1)], data };
}

/** Row i of a 2-D (or more) tensor, as a flat number array. */
export function row(t: TensorData, i: number): number[] {
  const size = elementCount(t.shape.slice(1));
  return Array.prototype.slice.call(t.data, i * size, (i + 1) * size) as number[];
}
