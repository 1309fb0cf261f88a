/**
 * Nested JSON arrays (TF Serving rows/columns, OIP nested `data`) to a flat array and a shape,
 * checking that the nesting is rectangular. Errors name the JSON path of the offending value.
 */
import { BadRequestError } from '../errors.js';

export type Scalar = number | string | boolean;

export interface FlatTensor {
  shape: number[];
  data: Scalar[];
}

export function isNumericLeaf(value: unknown): value is number | boolean {
  return (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';
}

export function flattenNested(value: unknown, where: string): FlatTensor {
  const shape: number[] = [];
  for (let probe: unknown = value; Array.isArray(probe); probe = probe[0]) {
    shape.push(probe.length);
    if (probe.length === 0) break;
  }
  const data: Scalar[] = [];
  const walk = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw new BadRequestError(`${path}: ragged nesting: expected a value at depth ${depth}, got an array`);
      if (!isNumericLeaf(node) && typeof node !== 'string') {
        throw new BadRequestError(`${path}: expected a number, got ${node === null ? 'null' : typeof node === 'number' ? String(node) : typeof node}`);
      }
      data.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new BadRequestError(`${path}: ragged nesting: expected an array of ${shape[depth]} at depth ${depth}`);
    }
    node.forEach((child, i) => walk(child, depth + 1, `${path}[${i}]`));
  };
  walk(value, 0, where);
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
