/**
 * The JSON text of TF Serving's plain-array answers, written as tensorflow_model_server writes it
 * (json_tensor.cc: MakeJsonFromTensors, WriteDecimal). JSON.stringify would write a float32 as its
 * double ("2.049999952316284" where TF Serving writes "2.05"), a whole float as an integer ("3",
 * which Python's json reads as an int where TF Serving's "3.0" reads as a float) and NaN as null.
 */
import type { TensorData } from '../tensors/data.js';

/** The exact decimal significant digits of a finite positive double, trailing zeros dropped. */
function exactDigits(x: number): string {
  const [bits] = new BigUint64Array(Float64Array.of(x).buffer);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  const digits = exponent >= 0 ? mantissa << BigInt(exponent) : mantissa * 5n ** BigInt(-exponent);
  return digits.toString().replace(/0+$/, '');
}

/**
 * Whether a float32 can be a tie at nine digits (ten exact significant digits, the last a 5): it is
 * then M / 2^k with M odd below 2^24, whose M * 5^k has ten digits only for k from 3 to 14 (a whole
 * number of ten digits is even). At six digits a tie never reads back as the float, so nine are written.
 */
const mayTie = (x: number) => Number.isInteger(x * 16384) && !Number.isInteger(x * 4);

/** Powers of ten a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * `p` significant digits of a finite positive `x` and the power of ten of the first, rounded to
 * nearest with ties to even on the exact value, as printf rounds. Fast: x scaled by an exact power
 * of ten (one rounding, under 1e-7 at nine digits) and rounded, unless that is too near a half to
 * tell; then toExponential, which rounds exactly but ties away from zero, so a tie (the exact value
 * has p + 1 digits, the last a 5) whose rounding ended odd is taken down.
 */
function significant(x: number, p: number): { digits: string; exponent: number } {
  let exponent = Math.floor(Math.log10(x));
  for (let tries = 0; tries < 2; tries += 1) {
    const shift = p - 1 - exponent;
    if (Math.abs(shift) > 22) break;
    const scaled = shift >= 0 ? x * POW10[shift] : x / POW10[-shift];
    // log10 can be one off near a power of ten.
    if (scaled < POW10[p - 1]) exponent -= 1;
    else if (scaled >= POW10[p]) exponent += 1;
    else {
      if (Math.abs(scaled - Math.floor(scaled) - 0.5) < 1e-6) break;
      const n = Math.round(scaled);
      return n === POW10[p] ? { digits: String(POW10[p - 1]), exponent: exponent + 1 } : { digits: String(n), exponent };
    }
  }
  const text = x.toExponential(p - 1);
  const e = text.indexOf('e');
  let digits = text[0] + text.slice(2, e);
  const last = digits.charCodeAt(p - 1) - 48;
  if (last % 2 === 1 && mayTie(x)) {
    const exact = exactDigits(x);
    if (exact.length === p + 1 && exact.endsWith('5')) digits = digits.slice(0, p - 1) + String(last - 1);
  }
  return { digits, exponent: Number(text.slice(e + 1)) };
}

/** Digits without their trailing zeros. */
function trimZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end -= 1;
  return digits.slice(0, end);
}

/** printf's %g layout of significant digits (no trailing zeros, an exponent of at least two digits). */
function layout({ digits, exponent }: { digits: string; exponent: number }, p: number): string {
  if (exponent < -4 || exponent >= p) {
    const rest = trimZeros(digits.slice(1));
    return `${digits[0]}${rest ? `.${rest}` : ''}e${exponent < 0 ? '-' : '+'}${Math.abs(exponent) < 10 ? '0' : ''}${Math.abs(exponent)}`;
  }
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}${trimZeros(digits)}`;
  const fraction = trimZeros(digits.slice(exponent + 1));
  return fraction ? `${digits.slice(0, exponent + 1)}.${fraction}` : digits.slice(0, exponent + 1);
}

/** Whether p significant digits read back as the float32 `x` (strtof's test, through the nearest double). */
function readsBack({ digits, exponent }: { digits: string; exponent: number }, p: number, x: number): boolean {
  const shift = p - 1 - exponent;
  const n = Number(digits);
  const value = Math.abs(shift) <= 22 ? (shift >= 0 ? n / POW10[shift] : n * POW10[-shift]) : Number(`${digits}e${-shift}`);
  return Math.fround(value) === x;
}

/**
 * A float32 as WriteDecimal<float> writes it: six significant digits (absl::StrCat) when they read
 * back as the same float, else nine (max_digits10); ".0" after a whole number written without an
 * exponent; NaN, Infinity and -Infinity as those tokens (the REST API's JSON takes them).
 */
export function tfServingFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const magnitude = Math.abs(x);
  if (magnitude === 0) return `${sign}0.0`;
  const six = significant(magnitude, 6);
  const text = readsBack(six, 6, magnitude) ? layout(six, 6) : layout(significant(magnitude, 9), 9);
  return sign + (text.includes('.') || text.includes('e') ? text : `${text}.0`);
}

function valueText(t: TensorData, v: TensorData['data'][number]): string {
  if (t.dtype === 'float32') return tfServingFloat(Number(v));
  if (t.dtype === 'bool') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

/** The values of `t` from flat index `offset` on, nested as dimensions `dims` of its shape (AddTensorValues). */
function tensorText(t: TensorData, dims: number[], offset: number): string {
  if (dims.length === 0) return valueText(t, t.data[offset]);
  const [size, ...inner] = dims;
  const stride = inner.reduce((a, b) => a * b, 1);
  return `[${Array.from({ length: size }, (_, i) => tensorText(t, inner, offset + i * stride)).join(',')}]`;
}

/** A value written by `write` under each output's name, or alone for a single output (TF Serving omits the name then). */
function named(outputs: TensorData[], write: (t: TensorData) => string): string {
  if (outputs.length === 1) return write(outputs[0]);
  return `{${outputs.map((t) => `${JSON.stringify(t.name)}:${write(t)}`).join(',')}}`;
}

/** The answer's JSON text: `outputs` whole for a columnar request, else `predictions` row by row. */
export function tfServingAnswerText(outputs: TensorData[], columnar: boolean, modelVersion: string): string {
  const version = `"model_version":${JSON.stringify(modelVersion)}`;
  if (columnar) return `{"outputs":${named(outputs, (t) => tensorText(t, t.shape, 0))},${version}}`;
  const rows = outputs[0].shape[0] ?? 0;
  const row = (r: number) =>
    named(outputs, (t) => {
      const inner = t.shape.slice(1);
      return tensorText(t, inner, r * inner.reduce((a, b) => a * b, 1));
    });
  return `{"predictions":[${Array.from({ length: rows }, (_, r) => row(r)).join(',')}],${version}}`;
}
