/**
 * OIP inputs keep their own values whatever their names: number-like names ("1", "2", pandas'
 * default columns) once went first when the names were rebuilt through an object's keys, and a
 * value reached another input or feature.
 */
import { expect, it } from 'vitest';
import { decodeOip, type OipInferRequest } from '../../lib/protocol/oip.js';
import { manifestSchema } from '../../lib/registry/index.js';

const base = { version: 1, format: 'graph', task: 'regression', files: {}, createdAt: '2026-01-01T00:00:00Z' };
const output = { name: 'y', dtype: 'float32', shape: [-1] };

it('feature columns named "age" and "2" each keep their value', () => {
  const manifest = manifestSchema.parse({
    ...base,
    name: 'm',
    signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }], outputs: [output] },
    transforms: { input: { kind: 'tabular', features: [{ name: 'age' }, { name: '2' }], standardize: false } },
  });
  const request = {
    inputs: [
      { name: 'age', datatype: 'FP32', shape: [1], data: [30] },
      { name: '2', datatype: 'FP32', shape: [1], data: [7] },
    ],
  } as OipInferRequest;
  expect(decodeOip(manifest, request)).toMatchObject({ kind: 'instances', instances: [{ age: 30, 2: 7 }] });
});

it('raw inputs named "a" and "1" each keep their tensor', () => {
  const manifest = manifestSchema.parse({
    ...base,
    name: 'r',
    signature: {
      inputs: [
        { name: 'a', dtype: 'float32', shape: [-1, 1] },
        { name: '1', dtype: 'float32', shape: [-1, 1] },
      ],
      outputs: [output],
    },
  });
  const request = {
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [1, 1], data: [30] },
      { name: '1', datatype: 'FP32', shape: [1, 1], data: [7] },
    ],
  } as OipInferRequest;
  const decoded = decodeOip(manifest, request);
  expect(decoded.kind).toBe('tensors');
  const byName = Object.fromEntries((decoded as { tensors: { name: string; data: ArrayLike<number> }[] }).tensors.map((t) => [t.name, Array.from(t.data)]));
  expect(byName).toEqual({ a: [30], 1: [7] });
});
