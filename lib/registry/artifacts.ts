/**
 * A TF.js model folder's files (model.json + weight shards), checked against the weights manifest
 * before anything is written: a push with a missing or wrong-sized shard must write nothing.
 */
import { BadRequestError } from '../errors.js';
import { checkShardPaths } from './shardPaths.js';

export type ModelFiles = Map<string, Uint8Array>;
export type ModelFormat = 'layers' | 'graph';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  /** uint8 and uint16 dequantize as value x scale + min; float16 has neither. */
  quantization?: { dtype: string; scale?: number; min?: number };
}
export interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: WeightSpec[] }[];
  signature?: unknown;
  [key: string]: unknown;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2 };

export function specBytes(spec: WeightSpec): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = BYTES[dtype];
  if (size === undefined) throw new BadRequestError(`weight ${spec.name}: unsupported dtype ${dtype}`);
  return count * size;
}

/** A string weight's size is in its bytes, not its shape: each element is a 4-byte length, then that many bytes. */
const isStringSpec = (spec: WeightSpec) => spec.dtype === 'string' && spec.quantization === undefined;

/** The bytes a group's specs declare, when its shape says (no string weight in it); else undefined. */
export function declaredGroupBytes(group: { weights: WeightSpec[] }): number | undefined {
  if (group.weights.some(isStringSpec)) return undefined;
  return group.weights.reduce((sum, spec) => sum + specBytes(spec), 0);
}

/** The fewest bytes a group's weights can take: each string element at least its 4-byte length. */
export function leastGroupBytes(group: { weights: WeightSpec[] }): number {
  return group.weights.reduce((sum, spec) => sum + (isStringSpec(spec) ? 4 * spec.shape.reduce((a, b) => a * b, 1) : specBytes(spec)), 0);
}

/**
 * The bytes a group's weights take in its shards' bytes, read as TF.js reads them (each string
 * element a little-endian uint32 length, then its bytes), or a 400 naming the string weight
 * whose elements run past the shards' end.
 */
function groupBytes(group: { weights: WeightSpec[] }, shards: Uint8Array[]): number {
  const declared = declaredGroupBytes(group);
  if (declared !== undefined) return declared;
  const total = shards.reduce((n, s) => n + s.byteLength, 0);
  const bytes = shards.length === 1 ? (shards[0] as Uint8Array) : concat(shards);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (const spec of group.weights) {
    if (!isStringSpec(spec)) {
      offset += specBytes(spec);
      continue;
    }
    for (let i = spec.shape.reduce((a, b) => a * b, 1); i > 0; i--) {
      offset += offset + 4 > total ? 4 : 4 + view.getUint32(offset, true);
      if (offset > total) throw new BadRequestError(`weight ${spec.name}: its strings run past the end of the weight files (${total} bytes)`);
    }
  }
  return offset;
}

/** Byte arrays end to end (a group's shards, in order: one weight may straddle two). */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** A file the caller has already checked is there (checkWeightFiles, parseModelJson). */
export function fileBytes(files: ModelFiles, path: string): Uint8Array {
  const bytes = files.get(path);
  if (!bytes) throw new Error(`${path} is missing from the model files`);
  return bytes;
}

export function parseModelJson(bytes: Uint8Array | undefined): ModelJson {
  if (!bytes) throw new BadRequestError('model.json is missing: a TF.js model folder must contain model.json');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new BadRequestError('model.json is not valid JSON');
  }
  if (!isObject(json) || !('modelTopology' in json)) {
    throw new BadRequestError('model.json has no modelTopology: is this a TF.js model (tensorflowjs_converter output)?');
  }
  // Read before TF.js sees them (shard paths, sizes): a wrong shape here must be the file's 400, not a TypeError.
  if (!isObject(json.modelTopology)) throw new BadRequestError('model.json: modelTopology must be an object (the layers config or GraphDef)');
  const problem = json.weightsManifest === undefined ? undefined : manifestProblem(json.weightsManifest);
  if (problem) throw new BadRequestError(`model.json: ${problem}`);
  return json as ModelJson;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isDimension = (d: unknown) => Number.isInteger(d) && (d as number) >= 0;

/** What is wrong with a weightsManifest's shape, if anything: groups of shard paths and weight specs. */
function manifestProblem(manifest: unknown): string | undefined {
  if (!Array.isArray(manifest)) return 'weightsManifest must be an array of {paths, weights} groups';
  for (const [index, group] of manifest.entries()) {
    const where = `weightsManifest[${index}]`;
    if (!isObject(group)) return `${where} must be an object with paths and weights`;
    if (!Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string')) return `${where}.paths must be an array of file names`;
    if (!Array.isArray(group.weights)) return `${where}.weights must be an array of weight specs`;
    for (const [i, spec] of group.weights.entries()) {
      const ok = isObject(spec) && typeof spec.name === 'string' && typeof spec.dtype === 'string' && Array.isArray(spec.shape) && spec.shape.every(isDimension);
      if (!ok) return `${where}.weights[${i}] must have a name, a dtype and a shape of non-negative integers`;
    }
  }
  return undefined;
}

export function formatOf(modelJson: ModelJson): ModelFormat {
  if (modelJson.format === 'graph-model') return 'graph';
  if (modelJson.format === 'layers-model') return 'layers';
  // Older converters omit `format`: graph topologies are a GraphDef with a `node` list.
  const topology = modelJson.modelTopology as { node?: unknown } | undefined;
  return topology && Array.isArray(topology.node) ? 'graph' : 'layers';
}

/**
 * Every shard named by the weights manifest is a file a version can hold (shardPaths.ts), exists,
 * and the bytes add up to what the specs declare.
 */
export function checkWeightFiles(modelJson: ModelJson, files: ModelFiles): void {
  checkShardPaths(weightPaths(modelJson));
  for (const [index, group] of (modelJson.weightsManifest ?? []).entries()) {
    const missing = group.paths.filter((p) => !files.has(p));
    if (missing.length > 0) throw new BadRequestError(`weight files missing for weightsManifest[${index}]: ${missing.join(', ')}`);
    const shards = group.paths.map((p) => fileBytes(files, p));
    const expected = groupBytes(group, shards);
    const actual = shards.reduce((sum, shard) => sum + shard.byteLength, 0);
    if (expected !== actual) {
      throw new BadRequestError(`weight files ${group.paths.join(', ')} hold ${actual} bytes but weightsManifest[${index}] declares ${expected}`);
    }
  }
}

/** Weight shard paths in manifest order: the order TF.js expects their bytes concatenated in. */
export function weightPaths(modelJson: ModelJson): string[] {
  return (modelJson.weightsManifest ?? []).flatMap((group) => group.paths);
}

/** Concatenates shards, in order, into the single buffer tf.io.fromMemory takes. */
export function concatWeights(modelJson: ModelJson, files: ModelFiles): ArrayBuffer {
  return concat(weightPaths(modelJson).map((p) => fileBytes(files, p))).buffer as ArrayBuffer;
}
