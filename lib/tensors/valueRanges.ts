/**
 * Which numbers a tensor of each dtype can hold. TF.js computes in float32 and int32: a JSON number
 * beyond float32's range becomes Infinity, NaN sent in binary stays NaN, and an integer beyond
 * int32 wraps. Each would give an answer (a label with a null score, a confident class) computed
 * from a value the client never sent, so such values are refused with their place instead.
 */
import { BadRequestError, quoted } from '../errors.js';

/** The largest finite float32, about 3.4e38. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Whether v survives the trip into a Float32Array as a finite number. */
export function fitsFloat32(v: number): boolean {
  return Number.isFinite(Math.fround(v));
}

export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;

/** Integer types narrower than int32, which TF.js reads as int32, and the values each holds. */
const NARROW_INTEGER_RANGES = { uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767] } as const;
export type NarrowInteger = keyof typeof NARROW_INTEGER_RANGES;
export const NARROW_INTEGERS = Object.keys(NARROW_INTEGER_RANGES) as [NarrowInteger, ...NarrowInteger[]];

/** The values an input holds where the model declares a narrower integer type than TF.js's int32 (uint8: 0..255); undefined otherwise. */
export function declaredRange(spec: { declaredDtype?: NarrowInteger }): readonly [number, number] | undefined {
  return spec.declaredDtype === undefined ? undefined : NARROW_INTEGER_RANGES[spec.declaredDtype];
}

/** A value as a message names it. */
function shown(v: unknown): string {
  return typeof v === 'number' ? String(v) : quoted(v);
}

/**
 * The index of the first value a tensor of this dtype cannot hold as sent, and why; undefined when
 * all fit. Booleans and strings are left to the dtype checks that see them.
 */
export function firstMisfit(dtype: string, data: ArrayLike<unknown>, range?: readonly [number, number]): { index: number; why: string } | undefined {
  if (dtype === 'float32') {
    for (let i = 0; i < data.length; i += 1) {
      const v = data[i];
      if (typeof v === 'number' && !fitsFloat32(v)) {
        return { index: i, why: `${shown(v)} is not a finite float32 number (the model computes in float32: at most ±${FLOAT32_MAX.toPrecision(3)})` };
      }
    }
  } else if (dtype === 'int32') {
    const [min, max] = range ?? [INT32_MIN, INT32_MAX];
    for (let i = 0; i < data.length; i += 1) {
      const v = data[i];
      if (typeof v === 'number' && !(Number.isInteger(v) && v >= min && v <= max)) {
        return { index: i, why: `${shown(v)} is not an integer in ${min}..${max}` };
      }
    }
  }
  return undefined;
}

/** Throws a 400 naming the first value that does not fit, as `${where}[flat index]`. */
export function checkValuesFit(dtype: string, data: ArrayLike<unknown>, where: string, range?: readonly [number, number]): void {
  const misfit = firstMisfit(dtype, data, range);
  if (misfit) throw new BadRequestError(`${where}[${misfit.index}] (flat index): ${misfit.why}`);
}
