/** Rounding to half precision as numpy's float16 does (the expected values are numpy 2.4's). */
import { describe, expect, it } from 'vitest';
import { halfToFloat, roundToHalf } from '../../lib/protocol/half.js';

describe('roundToHalf', () => {
  it("equals numpy's np.float16: nearest, ties to even, subnormals, overflow to infinity", () => {
    // np.array(x, dtype=np.float16) for each x, as floats
    const cases: [number, number][] = [
      [5.1, 5.1015625],
      [1.4, 1.400390625],
      [0.2, 0.199951171875],
      [0.1, 0.0999755859375],
      [65519.99, 65504],
      [65520, Number.POSITIVE_INFINITY],
      [-65520, Number.NEGATIVE_INFINITY],
      [1e-8, 0],
      [3e-8, 2 ** -24], // the smallest subnormal, 5.960464477539063e-8
      [-(2 ** -25), -0],
      [2049, 2048], // a tie between 2048 and 2050: the even one
      [2051, 2052],
      [2 ** -14 * 1.00048828125, 2 ** -14], // a tie just above the smallest normal
    ];
    for (const [x, half] of cases) expect([x, roundToHalf(x)]).toEqual([x, half]);
  });

  it('gives back every half exactly (all 63,488 finite bit patterns)', () => {
    for (let bits = 0; bits < 0x10000; bits += 1) {
      const value = halfToFloat(bits);
      if (Number.isFinite(value) && roundToHalf(value) !== value) throw new Error(`half ${bits.toString(16)} (${value}) rounds to ${roundToHalf(value)}`);
    }
  });
});
