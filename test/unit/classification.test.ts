/**
 * Triton's classification extension's strings: values printed as C's %f (the expected strings are
 * Python's '%f', which rounds the exact binary value half to even as glibc's printf does), integer
 * outputs as %d, ranked highest first.
 */
import { describe, expect, it } from 'vitest';
import { classify, printfF } from '../../lib/protocol/classification.js';

describe('printfF', () => {
  it("writes a float32 as printf('%f') does, ties to even and past toFixed's exponents", () => {
    const cases: [number, string][] = [
      [Math.fround(0.1), '0.100000'],
      [0.0078125, '0.007812'], // an exact tie: toFixed gives 0.007813
      [-0.0078125, '-0.007812'],
      [0.0234375, '0.023438'],
      [0.0390625, '0.039062'],
      [Math.fround(5e-7), '0.000000'],
      [1.430511474609375e-6, '0.000001'],
      [Math.fround(-123.4567891), '-123.456787'],
      [Math.fround(3.4028234663852886e38), '340282346638528859811704183484516925440.000000'],
      [Math.fround(1e21), '1000000020040877342720.000000'],
      [-0, '-0.000000'],
    ];
    expect(cases.map(([x]) => printfF(x))).toEqual(cases.map(([, s]) => s));
  });
});

describe('classify', () => {
  it('ranks each row of an INT32 output, equal values in index order, printed as integers', () => {
    const output = { name: 'counts', datatype: 'INT32', shape: [2, 3], data: Int32Array.from([4, 9, 4, -1, 0, 7]) };
    expect(classify(output, 2, undefined, 'outputs[0]')).toEqual({ name: 'counts', datatype: 'BYTES', shape: [2, 2], data: ['9:1', '4:0', '7:2', '0:1'] });
  });
});
