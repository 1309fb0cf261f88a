/**
 * A layers model's weights must be finite: a NaN or infinite kernel makes every answer that reaches
 * it non-finite (each a 422, protocol/answers.ts), and fine-tune refuses to start from one. Graph
 * models are left as they are: their weights are the graph's constants, where an infinity is
 * ordinary (a score threshold of -inf, a mask's fill value).
 */
import { BadRequestError } from '../errors.js';
import { concat, fileBytes, formatOf, specBytes, type ModelFiles, type ModelJson } from './artifacts.js';

/** The bytes of a group's shards, in order: one weight may straddle two shards. */
function groupBytes(files: ModelFiles, paths: string[]): Uint8Array {
  return paths.length === 1 ? fileBytes(files, paths[0]) : concat(paths.map((p) => fileBytes(files, p)));
}

/** The index of the first non-finite float32 in `bytes` (little-endian, as TF.js stores them), or -1. */
function firstNonFinite32(bytes: Uint8Array): number {
  // A Float32Array needs 4-byte alignment; a weight at an odd offset is copied first.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const values = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  for (let i = 0; i < values.length; i += 1) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** The same for float16 (quantized weights): all exponent bits set is an infinity or NaN. */
function firstNonFinite16(bytes: Uint8Array): number {
  for (let i = 0; i + 1 < bytes.length; i += 2) if ((bytes[i + 1] & 0x7c) === 0x7c) return i / 2;
  return -1;
}

/**
 * An integer-quantized weight (uint8, uint16) dequantizes to value x scale + min in float32: a scale
 * or min that is not finite there, or a largest value past float32's range, makes weights infinite
 * however the bytes read. A description of the range it spans, or undefined when it is finite.
 */
function quantizedRangeProblem(quantization: { dtype: string; scale?: number; min?: number }): string | undefined {
  const levels = quantization.dtype === 'uint8' ? 255 : quantization.dtype === 'uint16' ? 65535 : undefined;
  if (levels === undefined) return undefined;
  const { scale = 1, min = 0 } = quantization;
  const ends = [min, min + scale * levels].map(Math.fround);
  if ([scale, min].every(Number.isFinite) && ends.every(Number.isFinite)) return undefined;
  return `dequantizes ${quantization.dtype} with scale ${scale} and min ${min} to values beyond float32 (up to ${ends[1]})`;
}

/** Refuses, with a 400 naming the weight and the element, a layers model whose float weights are not all finite. Shards already checked (checkWeightFiles). */
export function checkFiniteWeights(modelJson: ModelJson, files: ModelFiles): void {
  if (formatOf(modelJson) !== 'layers') return;
  for (const group of modelJson.weightsManifest ?? []) {
    const bytes = groupBytes(files, group.paths);
    let offset = 0;
    for (const spec of group.weights) {
      const size = specBytes(spec);
      const range = spec.quantization && quantizedRangeProblem(spec.quantization);
      if (range) throw new BadRequestError(`weight ${spec.name} ${range}: a layers model's weights must be finite, or every answer that uses them is NaN`);
      const stored = spec.quantization?.dtype ?? spec.dtype;
      const data = bytes.subarray(offset, offset + size);
      const index = stored === 'float32' ? firstNonFinite32(data) : stored === 'float16' ? firstNonFinite16(data) : -1;
      if (index >= 0) {
        const value = stored === 'float32' ? String(new DataView(data.buffer, data.byteOffset).getFloat32(index * 4, true)) : 'NaN or infinite';
        throw new BadRequestError(`weight ${spec.name} holds ${value} (element ${index}): a layers model's weights must be finite, or every answer that uses them is NaN`);
      }
      offset += size;
    }
  }
}
