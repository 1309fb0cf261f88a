/**
 * IEEE 754 half precision (OIP's FP16) as TF.js's float32 holds it: the binary extension's
 * 2-byte values read, and JSON numbers rounded to the half they name, as numpy's float16 rounds
 * them in MLServer's and KServe's codecs (`np.array(data, dtype=float16)`), so FP16 means the same
 * values in JSON and in binary.
 */
import { BadRequestError } from '../errors.js';

/** The largest half; from 65520 (halfway to 2^16) a value rounds to infinity. */
const HALF_MAX = 65504;

/** Half-precision bits -> its value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The nearest half to x, a tie to the even one (infinity past the largest half). */
export function roundToHalf(x: number): number {
  const a = Math.abs(x);
  if (!Number.isFinite(a) || a === 0) return x;
  if (a >= 65520) return Math.sign(x) * Number.POSITIVE_INFINITY;
  // Halves are 2^(e-10) apart in [2^e, 2^(e+1)), and 2^-24 apart below 2^-14 (subnormals).
  let e = Math.max(Math.floor(Math.log2(a)), -14);
  if (e > -14 && 2 ** e > a)
    e -= 1; // log2 rounded up near a power of two
  else if (2 ** (e + 1) <= a) e += 1;
  const step = 2 ** (e - 10);
  const steps = a / step; // exact: step is a power of two
  let n = Math.round(steps);
  if (n - steps === 0.5 && n % 2 === 1) n -= 1;
  return Math.sign(x) * n * step;
}

/**
 * JSON FP16 data (already float32) rounded in place to halves; a value past the largest half is a
 * 400 (numpy would make it infinity). From float32, not the JSON double: the two roundings differ
 * only for a double within float32's rounding of a tie between halves.
 */
export function roundToHalves(data: Float32Array, where: string): void {
  for (let i = 0; i < data.length; i += 1) {
    const half = roundToHalf(data[i]);
    if (!Number.isFinite(half)) throw new BadRequestError(`${where}[${i}] (flat index): ${data[i]} does not fit FP16 (at most ±${HALF_MAX})`);
    data[i] = half;
  }
}
