/**
 * Nested JSON arrays (TF Serving rows/columns, OIP nested `data`) to a flat array and a shape,
 * checking that the nesting is rectangular. Errors name the JSON path of the offending value.
 */
import { BadRequestError, quoted } from '../errors.js';
import type { Scalar } from './data.js';
import { firstMisfit } from './valueRanges.js';

/** The deepest nesting read as a tensor: TF.js ops work up to rank 6; this leaves room and keeps recursion shallow. */
const MAX_RANK = 16;

export interface FlatTensor {
  shape: number[];
  data: Scalar[];
}

function isNumericLeaf(value: unknown): value is number | boolean {
  return (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';
}

/**
 * The 400 for a string or a boolean where a numeric tensor takes numbers, its JSON path given: each
 * reader words it in its own terms (the input, the datatype sent).
 */
export type NotANumber = (path: string, value: string | boolean) => Error;

/** A string or boolean leaf as a message names it: `the boolean true`, `the string "x"`. */
export function leafShown(value: string | boolean): string {
  return typeof value === 'boolean' ? `the boolean ${value}` : `the string ${quoted(value)}`;
}

/**
 * The rows (first dimension) of a tensor read a chunk of rows at a time, as evaluate reads a
 * request or a data set: each chunk numbers its rows from 0, and its first row sets their shape.
 */
export interface RowsOf {
  /** Row r's name in place of `${where}[r]`: its index in the whole request, or its line in a file. */
  place?: (row: number) => string;
  /** The shape every row must have (the first chunk's), so that a bad row opening a later chunk is the one named, not the next. */
  shape?: number[];
  /** The integers an int32 input takes where the model declares a narrower type (uint8: 0..255), as a refusal names them. */
  range?: readonly [number, number];
}

/** `where` plus the indices of the first `depth` levels: the JSON path of a value, built only for an error. */
function pathOf(where: string, index: number[], depth: number, place?: (row: number) => string): string {
  if (depth === 0) return where;
  let path = place ? place(index[0]) : `${where}[${index[0]}]`;
  for (let d = 1; d < depth; d++) path += `[${index[d]}]`;
  return path;
}

/**
 * The hot path for numeric tensors: one pass straight into a typed array, no allocation per value.
 * Answers false at the first thing wrong (ragged, string, null, NaN...) without saying what:
 * flattenNested's careful walk then finds it and names its JSON path.
 */
function fillNumbers(value: unknown, shape: number[], out: Float32Array | Int32Array): boolean {
  const last = shape.length - 1;
  const integers = out instanceof Int32Array;
  let k = 0;
  /**
   * Stores one leaf; false for anything but a number (a boolean too: TF Serving refuses one for a
   * float or int input, where it would be read as 1 or 0), NaN or Infinity, or a value the typed
   * array changed (beyond float32, an integer that wrapped or a fraction cut in an Int32Array): the
   * careful walk then names it.
   */
  const put = (v: unknown): boolean => {
    if (typeof v !== 'number') return false;
    out[k] = v;
    if (out[k] - out[k] !== 0 || (integers && out[k] !== v)) return false;
    k += 1;
    return true;
  };
  const fill = (node: unknown, depth: number): boolean => {
    if (!Array.isArray(node) || node.length !== shape[depth]) return false;
    if (depth === last) {
      for (let i = 0; i < node.length; i++) if (!put(node[i])) return false;
      return true;
    }
    for (let i = 0; i < node.length; i++) if (!fill(node[i], depth + 1)) return false;
    return true;
  };
  return shape.length === 0 ? put(value) : fill(value, 0);
}

/** The shape a nested value is read as: the length of each level's first element, down to a value. */
export function nestedShape(value: unknown, where: string): number[] {
  const shape: number[] = [];
  for (let probe: unknown = value; Array.isArray(probe); probe = probe[0]) {
    // flattenNested's walks recurse once a level: a request nested deeper than any tensor is refused
    // here, before it can exhaust the stack.
    if (shape.length === MAX_RANK) throw new BadRequestError(`${where}: nested more than ${MAX_RANK} levels deep (a tensor here has at most ${MAX_RANK} dimensions)`);
    shape.push(probe.length);
    if (probe.length === 0) break;
  }
  return shape;
}

/**
 * With `into`, the values land in a typed array of that type (what tf.tensor takes without another
 * copy) and a string or a boolean is an error (`notANumber` words it). Large tensors (a batch of
 * images is ~200,000 values) go through fillNumbers; the careful walk only runs to explain a bad
 * request.
 */
export function flattenNested(value: unknown, where: string, into?: undefined, notANumber?: undefined, rows?: RowsOf): FlatTensor;
export function flattenNested(
  value: unknown,
  where: string,
  into: 'float32' | 'int32',
  notANumber?: NotANumber,
  rows?: RowsOf,
): { shape: number[]; data: Float32Array | Int32Array };
export function flattenNested(
  value: unknown,
  where: string,
  into?: 'float32' | 'int32',
  notANumber?: NotANumber,
  rows: RowsOf = {},
): { shape: number[]; data: Scalar[] | Float32Array | Int32Array } {
  const shape = rows.shape && Array.isArray(value) ? [value.length, ...rows.shape] : nestedShape(value, where);
  const size = shape.reduce((a, b) => a * b, 1);
  if (into) {
    const out = into === 'float32' ? new Float32Array(size) : new Int32Array(size);
    // A value out of a narrower type's range is named where it stands by the walk below, as a fraction is.
    if (fillNumbers(value, shape, out) && !(rows.range && firstMisfit(into, out, rows.range))) return { shape, data: out };
  }
  const data: Scalar[] = [];
  const index = new Array<number>(shape.length).fill(0);
  const path = (depth: number) => pathOf(where, index, depth, rows.place);
  const walk = (node: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw new BadRequestError(`${path(depth)}: ragged nesting: expected a value at depth ${depth}, got an array`);
      if (!isNumericLeaf(node) && typeof node !== 'string') {
        // NaN and ±Infinity come only from a body that has the tokens (TF Serving's requests may).
        if (typeof node === 'number') throw new BadRequestError(`${path(depth)}: ${node} is not a finite number (the model computes in finite float32)`);
        const expected = into ? 'a number' : 'a number or a string';
        throw new BadRequestError(`${path(depth)}: expected ${expected}, got ${node === null ? 'null' : typeof node === 'number' ? String(node) : typeof node}`);
      }
      if (into && typeof node !== 'number') throw notANumber?.(path(depth), node) ?? new BadRequestError(`${path(depth)}: expected a number, got ${leafShown(node)}`);
      const misfit = into && firstMisfit(into, [node], rows.range);
      if (misfit) throw new BadRequestError(`${path(depth)}: ${misfit.why}`);
      data.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new BadRequestError(`${path(depth)}: ragged nesting: expected an array of ${shape[depth]} at depth ${depth}`);
    }
    for (let i = 0; i < node.length; i++) {
      index[depth] = i;
      walk(node[i], depth + 1);
    }
  };
  walk(value, 0);
  return { shape, data };
}

/** The inverse of flattenNested: a flat array and a shape -> nested arrays (row i of dimension 0 first). */
export function nest(data: ArrayLike<Scalar>, shape: number[]): unknown {
  if (shape.length === 0) return data[0];
  let offset = 0;
  const build = (depth: number): unknown[] => {
    if (depth === shape.length - 1) {
      const out = Array.prototype.slice.call(data, offset, offset + shape[depth]) as Scalar[];
      offset += shape[depth];
      return out;
    }
    return Array.from({ length: shape[depth] }, () => build(depth + 1));
  };
  return build(0);
}
