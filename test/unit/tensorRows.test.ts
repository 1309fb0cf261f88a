/**
 * Rows joined and padded (lib/tensors/data.ts concatRows, fixedBatch.ts padRows) as tensor data of
 * any size: a bool mask of [4, 256, 256, 1] in two chunks was joined by spreading each chunk into
 * push's arguments, past the stack's room (a 500), and padding copied a chunk into a JS array of
 * numbers (8 bytes and more a value where the budget counts 4).
 */
import { describe, expect, it } from 'vitest';
import { concatRows } from '../../lib/tensors/data.js';
import { padRows } from '../../lib/tensors/fixedBatch.js';

describe('concatRows', () => {
  it('joins bool chunks of 2 x 256 x 256 values in order', () => {
    const chunk = (rows: number, first: boolean) => ({
      name: 'mask',
      dtype: 'bool' as const,
      shape: [rows, 256, 256, 1],
      data: Array.from({ length: rows * 65536 }, (_, i) => (i % 3 === 0) === first),
    });
    const joined = concatRows([chunk(2, true), chunk(2, false)]);
    expect(joined.shape).toEqual([4, 256, 256, 1]);
    expect(joined.data.length).toBe(4 * 65536);
    expect([joined.data[0], joined.data[1], joined.data[2 * 65536], joined.data[2 * 65536 + 1]]).toEqual([true, false, false, true]);
  });
});

describe('padRows', () => {
  it('repeats the last row up to the batch, in a typed array of the same kind', () => {
    const t = { name: 'x', dtype: 'int32' as const, shape: [2, 3], data: Int32Array.from([1, 2, 3, 4, 5, 6]) };
    const padded = padRows(t, 4);
    expect(padded.data).toBeInstanceOf(Int32Array);
    expect(padded.shape).toEqual([4, 3]);
    expect(Array.from(padded.data as Int32Array)).toEqual([1, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6]);
    const floats = padRows({ name: 'x', dtype: 'float32', shape: [1, 2], data: Float32Array.from([0.5, -1]) }, 3);
    expect(floats.data).toBeInstanceOf(Float32Array);
    expect(Array.from(floats.data as Float32Array)).toEqual([0.5, -1, 0.5, -1, 0.5, -1]);
  });

  it('pads plain arrays (strings) as plain arrays', () => {
    const padded = padRows({ name: 's', dtype: 'string', shape: [1], data: ['a'] }, 3);
    expect(padded.data).toEqual(['a', 'a', 'a']);
  });
});
