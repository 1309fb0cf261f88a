/**
 * Tensors as plain data: what protocols decode to and encode from, what input kinds produce, and
 * what ops take and give. This module imports nothing of the project's: everything may use it.
 */
export type Scalar = number | string | boolean;

type TensorDtype = 'float32' | 'int32' | 'bool' | 'string';

export interface TensorData {
  name: string;
  shape: number[];
  dtype: TensorDtype;
  data: ArrayLike<Scalar>;
}

/**
 * A model input or output as its signature declares it; -1 marks a variable dimension (the batch),
 * and a null shape an unknown rank (any shape: the model's signature says nothing of it).
 */
export interface TensorSpec {
  name: string;
  dtype: TensorDtype;
  shape: number[] | null;
  /** The narrower integer type the model declares where TF.js holds int32 (registry/manifest.ts). */
  declaredDtype?: 'uint8' | 'int8' | 'uint16' | 'int16';
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Whether a concrete shape fits a spec's shape (-1 = any size; null, an unknown rank: any shape). */
export function fitsShape(spec: readonly number[] | null, shape: readonly number[]): boolean {
  return spec === null || (shape.length === spec.length && spec.every((d, i) => d < 0 || d === shape[i]));
}

/** A spec's last dimension, its units: 1 for a scalar, -1 when only known as it runs (a variable size, an unknown rank). */
export function lastDimension(shape: readonly number[] | null): number {
  return shape === null ? -1 : (shape.at(-1) ?? 1);
}

/**
 * Whether an output holds several vectors a row, one a pixel or position (a segmentation's mask
 * [rows, 256, 256, 1], a pose's keypoints [rows, 1, 17, 3], a tagger's [rows, tokens, tags]): a
 * dimension between its rows and its last that is not 1, or not known. A classifier's scores are
 * one vector a row ([rows, classes], or [rows, 1, 1, classes]).
 */
export function isPerPosition(shape: readonly number[] | null): boolean {
  return shape?.slice(1, -1).some((d) => d !== 1) ?? false;
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
  const size = elementCount([rows, ...first.shape.slice(1)]);
  const data: Scalar[] | Float32Array | Int32Array = first.dtype === 'float32' ? new Float32Array(size) : first.dtype === 'int32' ? new Int32Array(size) : [];
  let offset = 0;
  for (const chunk of chunks) {
    // One value at a time: a spread of a chunk (push(...values)) passes each as an argument, past the stack's room for a mask of 256 x 256.
    if (Array.isArray(data)) for (let i = 0; i < chunk.data.length; i += 1) data.push(chunk.data[i] as Scalar);
    else (data as Float32Array).set(chunk.data as ArrayLike<number>, offset);
    offset += chunk.data.length;
  }
  return { ...first, shape: [rows, ...first.shape.slice(1)], data };
}

/** Row i of a 2-D (or more) tensor, as a flat number array. */
export function rowValues(t: TensorData, i: number): number[] {
  const size = elementCount(t.shape.slice(1));
  return Array.prototype.slice.call(t.data, i * size, (i + 1) * size) as number[];
}
