/**
 * TF Serving's JSON text of output tensors, against tensorflow_model_server's own tests
 * (tensorflow_serving/util/json_tensor_test.cc) and against glibc's printf, which WriteDecimal's
 * "%g" then "%.9g" are (absl::StrCat's six digits and absl::StrFormat round as printf does: to
 * nearest, ties to even on the exact value).
 */
import { describe, expect, it } from 'vitest';
import { tfServingAnswerText, tfServingFloat } from '../../lib/protocol/tfServingJson.js';
import type { TensorData } from '../../lib/tensors/data.js';

const floats = (name: string, shape: number[], values: number[]): TensorData => ({ name, dtype: 'float32', shape, data: Float32Array.from(values) });

describe('TF Serving JSON text', () => {
  it("json_tensor_test's FromJsonSingleFloatTensorSixDigitPrecision and FromJsonSingleFloatTensorNonFinite", () => {
    const six = floats('float_tensor', [2, 3], [9000000, 999999, 0.5, 0.0003, 0.00003, 555557.5]);
    expect(tfServingAnswerText([six], false, '1')).toBe('{"predictions":[[9e+06,999999.0,0.5],[0.0003,3e-05,555557.5]],"model_version":"1"}');
    const nonFinite = floats('float_tensor', [2, 2], [Number.NaN, Number.POSITIVE_INFINITY, 3, Number.NEGATIVE_INFINITY]);
    expect(tfServingAnswerText([nonFinite], false, '1')).toBe('{"predictions":[[NaN,Infinity],[3.0,-Infinity]],"model_version":"1"}');
  });

  // Each float32 (written here as the decimal that names it) and what this program writes for it,
  // run with glibc 2.36: snprintf(s, 64, "%g", f); if (strtof(s, 0) != f) snprintf(s, 64, "%.9g", f); then ".0" if s has no '.' or 'e'.
  it.each([
    [0.2, '0.2'],
    [2.05, '2.05'],
    [1, '1.0'],
    [0, '0.0'],
    [-0, '-0.0'],
    [14, '14.0'],
    [5000002, '5000002.0'],
    [16777216, '16777216.0'],
    [1e10, '1e+10'],
    [3e38, '3e+38'],
    [1.5e-5, '1.5e-05'],
    [0.99999994, '0.99999994'],
    [0.04742587357759476, '0.0474258736'],
    [1e-45, '1.4013e-45'],
    [1e-40, '9.99995e-41'],
    [99999900, '9.99999e+07'],
    // Ties at nine digits, taken to even where toPrecision would take them up ("1000000.13").
    [1000000.125, '1000000.12'],
    [1000000.375, '1000000.38'],
    [-1000000.125, '-1000000.12'],
  ])('%s -> %s, as printf writes it', (value, expected) => {
    expect(tfServingFloat(Math.fround(value))).toBe(expected);
  });

  it('writes every float so it reads back as the same float32, the shortest of six or nine digits', () => {
    const values = Array.from({ length: 20000 }, (_, i) => Math.fround(Math.sin(i) * 10 ** ((i % 60) - 30)));
    for (const value of values) {
      const text = tfServingFloat(value);
      expect(Math.fround(Number(text))).toBe(value);
      const significand = text.replace(/^-/, '').replace(/e.*$/, '').replace(/\.0$/, '').replace('.', '').replace(/^0+/, '');
      expect(significand.length).toBeLessThanOrEqual(9);
    }
  });

  it('rows and columns of several outputs, keyed by name, with int32 as integers and bool as true and false', () => {
    const outputs: TensorData[] = [
      floats('scores', [2, 2], [0.25, 1, 2, 0.5]),
      { name: 'classes', dtype: 'int32', shape: [2], data: Int32Array.from([3, 0]) },
      { name: 'kept', dtype: 'bool', shape: [2, 1], data: Uint8Array.from([1, 0]) },
    ];
    expect(tfServingAnswerText(outputs, false, '7')).toBe(
      '{"predictions":[{"scores":[0.25,1.0],"classes":3,"kept":[true]},{"scores":[2.0,0.5],"classes":0,"kept":[false]}],"model_version":"7"}',
    );
    expect(tfServingAnswerText(outputs, true, '7')).toBe('{"outputs":{"scores":[[0.25,1.0],[2.0,0.5]],"classes":[3,0],"kept":[[true],[false]]},"model_version":"7"}');
  });
});
