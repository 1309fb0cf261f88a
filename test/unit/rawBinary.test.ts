/**
 * Triton's raw binary request read against a model's signature (lib/protocol/rawBinary.ts): the one
 * input's shape settled by the byte count, or a 400 saying why it cannot be, for the signatures the
 * demo models do not have (several inputs, two free dimensions, no known shape, a string tensor).
 */
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { isBinaryData } from '../../lib/protocol/binaryData.js';
import { rawBinaryRequest } from '../../lib/protocol/rawBinary.js';
import type { Manifest } from '../../lib/registry/manifest.js';

const model = (inputs: { name: string; dtype: string; shape: number[] | null }[]) => ({ name: 'm', transforms: {}, signature: { inputs, outputs: [] } }) as unknown as Manifest;
const bytes = (n: number) => new Uint8Array(n);

describe('a raw binary body read as one input', () => {
  it('gives one row, a free dimension past the batch from the byte count, every output asked in binary', () => {
    const request = rawBinaryRequest(model([{ name: 'x', dtype: 'int32', shape: [-1, -1, 3] }]), new Uint8Array(Int32Array.from([1, 2, 3, 4, 5, 6]).buffer), undefined);
    expect(request).toMatchObject({ inputs: [{ name: 'x', shape: [1, 2, 3], datatype: 'INT32' }], parameters: { binary_data_output: true } });
    expect(Array.from(request.inputs[0].data as Int32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(isBinaryData(request.inputs[0].data)).toBe(true);
    // A model without a batch dimension past which to look: its one dimension is the row's.
    expect(rawBinaryRequest(model([{ name: 'v', dtype: 'float32', shape: [-1] }]), bytes(4), undefined).inputs[0].shape).toEqual([1]);
  });

  it('takes the body as one text for a string tensor, whatever its type says', () => {
    const request = rawBinaryRequest(model([{ name: 's', dtype: 'string', shape: [-1] }]), new TextEncoder().encode('héllo'), 'application/octet-stream');
    expect(request.inputs[0]).toMatchObject({ shape: [1], datatype: 'BYTES' });
  });

  it.each([
    [
      [
        { name: 'a', dtype: 'float32', shape: [-1, 2] },
        { name: 'b', dtype: 'float32', shape: [-1, 2] },
      ],
      8,
      /model m takes 2 \(a, b\): send a JSON header first/,
    ],
    [[{ name: 'a', dtype: 'float32', shape: [-1, -1, -1] }], 8, /takes \[-1,-1,-1\]: more than one dimension past the batch is free/],
    [[{ name: 'a', dtype: 'float32', shape: null }], 8, /input a has no known shape/],
    [[{ name: 'a', dtype: 'float32', shape: [-1, -1, 3] }], 16, /has 16 bytes; .* FP32 \[1,-1,3\] \(little-endian\), a multiple of 12 bytes$/],
    [[{ name: 'a', dtype: 'float32', shape: [-1, -1, 3] }], 0, /has 0 bytes; .* a multiple of 12 bytes$/],
  ])('refuses with a 400 what the bytes cannot settle (%#)', (inputs, size, message) => {
    const read = () => rawBinaryRequest(model(inputs as { name: string; dtype: string; shape: number[] | null }[]), bytes(size), undefined);
    expect(read).toThrow(BadRequestError);
    expect(read).toThrow(message);
  });
});
