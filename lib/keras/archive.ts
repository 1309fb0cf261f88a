/**
 * What a Keras file holds: the model config, the Keras version that wrote it, and its weights in
 * groups (weights.ts matches them to layers). Two containers:
 * - `.keras` (Keras 2.13 and later): a zip of config.json, metadata.json (`keras_version`) and
 *   model.weights.h5, whose weights sit in `vars` groups under one group per layer (`layers/<name>`
 *   in Keras 3; tracking names such as `_layer_checkpoint_dependencies\dense` before);
 * - legacy HDF5 `.h5` (`model.save('m.h5')`): the config in the root attribute `model_config`, the
 *   weights under `model_weights/<layer>`, listed in order by each layer's `weight_names`.
 * The container is told by its first bytes, not the file name.
 */
import { crc32 } from 'node:zlib';
import { unzipSync } from 'fflate';
import { BadRequestError, quoted } from '../errors.js';
import { readHdf5, type H5Dataset, type H5Group } from './hdf5.js';
import type { WeightArray, WeightGroup } from './weights.js';
import { directoryCrcs } from './zipCrc.js';

export interface KerasFile {
  container: 'keras' | 'h5';
  kerasVersion: string;
  config: unknown;
  groups: WeightGroup[];
  /** How the writer named weight groups: by layer name, by class and rank (Keras 3), or by tracking order (Keras 2.13-2.15 `.keras`). */
  naming: 'layer' | 'class-rank' | 'tracking';
}

const ZIP = [0x50, 0x4b, 0x03, 0x04];
const HDF5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (bytes: Uint8Array, magic: number[]) => magic.every((b, i) => bytes[i] === b);
const naturally = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
/** A Bidirectional layer's forward weights come first (TF.js's setWeights order), whatever the alphabet says. */
const SIDES = ['forward_layer', 'backward_layer'];
const inLayerOrder = (a: string, b: string) => (SIDES.includes(a) && SIDES.includes(b) ? SIDES.indexOf(a) - SIDES.indexOf(b) : naturally(a, b));

/** What a zip may expand to: a small upload that inflates past this is refused before it is inflated. */
const MAX_UNZIPPED_BYTES = 2 ** 30;

/**
 * The entries of a zip, refused up front (from its directory) when they would inflate past
 * `maxBytes`, and refused when one does not match the CRC-32 its directory records (zipCrc.ts).
 */
export function unzipBounded(bytes: Uint8Array, what: string, maxBytes = MAX_UNZIPPED_BYTES): Record<string, Uint8Array> {
  let total = 0;
  const names: string[] = [];
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (entry) => {
        total += entry.originalSize;
        if (total > maxBytes) throw new BadRequestError(`${what} would inflate to more than ${maxBytes} bytes`);
        names.push(entry.name);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    throw new BadRequestError(`${what} is not a readable zip (damaged or truncated?): ${(error as Error).message}`);
  }
  const crcs = directoryCrcs(bytes);
  for (const [i, name] of names.entries()) {
    // A name given twice keeps its last entry (unzipSync's object), so only that one is checked.
    if (names.lastIndexOf(name) !== i || crc32(entries[name]) === crcs[i]) continue;
    throw new BadRequestError(
      `${what} is damaged: its entry ${quoted(name)} does not match the CRC-32 its zip directory records (as Python's zipfile, which Keras reads with, refuses it)`,
    );
  }
  return entries;
}

/** A float dataset as float32; anything else (a dropout layer's seed state, counters) is not a weight. */
function weightArray(dataset: H5Dataset): WeightArray | undefined {
  const { value } = dataset;
  if (value instanceof Float32Array) return { shape: dataset.shape, data: value };
  if (value instanceof Float64Array) return { shape: dataset.shape, data: Float32Array.from(value) };
  if (typeof value === 'number' && /^<?f/.test(dataset.dtype)) return { shape: dataset.shape, data: Float32Array.of(value) };
  return undefined;
}

function parseJson(bytes: Uint8Array | undefined, what: string): unknown {
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new BadRequestError(`${what} is not valid JSON`);
  }
}

/** `.keras` weights: every `vars` group belongs to the nearest enclosing layer group. */
function kerasGroups(root: H5Group): WeightGroup[] {
  const groups = new Map<string, WeightGroup>();
  const visit = (group: H5Group, path: string, owner: { path: string; name: string } | undefined) => {
    for (const name of [...group.groups.keys()].sort(inLayerOrder)) {
      const child = group.groups.get(name) as H5Group;
      const childPath = path ? `${path}/${name}` : name;
      // The optimizer's and the metrics' state, not the model's (also as flat `metrics\mean` names).
      if (!path && /^(optimizer|metrics)($|\\)/.test(name)) continue;
      if (name === 'vars') {
        if (!owner) continue;
        const arrays = [...child.datasets.keys()]
          .sort(naturally)
          .map((key) => weightArray(child.datasets.get(key) as H5Dataset))
          .filter((a): a is WeightArray => a !== undefined);
        if (arrays.length === 0) continue;
        const entry = groups.get(owner.path) ?? { path: owner.path, name: owner.name, arrays: [] };
        entry.arrays.push(...arrays);
        groups.set(owner.path, entry);
      } else if (name === 'layers' || name === '_layer_checkpoint_dependencies') {
        for (const layer of [...child.groups.keys()].sort(naturally)) {
          visitLayer(child.groups.get(layer) as H5Group, `${childPath}/${layer}`, layer);
        }
      } else if (name.includes('\\')) {
        // Keras 2.13-2.15 may flatten a tracking path into one group name: `_layer_checkpoint_dependencies\dense`.
        visitLayer(child, childPath, name.slice(name.lastIndexOf('\\') + 1));
      } else visit(child, childPath, owner);
    }
  };
  const visitLayer = (group: H5Group, path: string, name: string) => visit(group, path, { path, name });
  visit(root, '', undefined);
  return [...groups.values()];
}

/** Legacy `.h5` weights: `model_weights/<layer>` lists its arrays in `weight_names` (`<layer>/kernel:0`...). */
function h5Groups(root: H5Group): WeightGroup[] {
  const weights = root.groups.get('model_weights');
  if (!weights) throw new BadRequestError('the HDF5 file has a model config but no model_weights group: it was saved without weights');
  const groups = new Map<string, WeightGroup>();
  const layerNames = (weights.attrs.layer_names as string[] | undefined) ?? [...weights.groups.keys()];
  for (const layer of layerNames) {
    const group = weights.groups.get(layer);
    if (!group) continue;
    for (const weightName of (group.attrs.weight_names as string[] | undefined) ?? []) {
      const segments = weightName.split('/');
      let node: H5Group | undefined = group;
      for (const segment of segments.slice(0, -1)) node = node?.groups.get(segment);
      const dataset = node?.datasets.get(segments[segments.length - 1]);
      if (!dataset) throw new BadRequestError(`the HDF5 file lists weight ${weightName} of layer ${layer} but does not hold it`);
      const array = weightArray(dataset);
      if (!array) continue;
      // A nested model lists its inner layers' weights: each goes to the inner layer named first.
      const owner = segments.length > 1 ? segments[0] : layer;
      const path = `model_weights/${layer}/${owner}`;
      const entry = groups.get(path) ?? { path, name: owner, arrays: [] };
      entry.arrays.push(array);
      groups.set(path, entry);
    }
  }
  return [...groups.values()];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return undefined;
}

async function readZip(bytes: Uint8Array, what: string): Promise<KerasFile> {
  const entries = unzipBounded(bytes, what);
  const names = Object.keys(entries);
  if (!entries['config.json']) {
    throw new BadRequestError(`${what} is a zip without config.json, so not a .keras model (it holds: ${names.slice(0, 10).join(', ') || 'nothing'})`);
  }
  if (!entries['model.weights.h5']) throw new BadRequestError(`${what} holds config.json but no model.weights.h5: a .keras file keeps its weights there`);
  const metadata = parseJson(entries['metadata.json'], `${what}: metadata.json`) as { keras_version?: string } | undefined;
  const config = parseJson(entries['config.json'], `${what}: config.json`);
  const root = await readHdf5(entries['model.weights.h5'], `${what}: model.weights.h5`);
  const groups = kerasGroups(root);
  const naming = groups.some((g) => g.path.startsWith('layers/')) ? 'class-rank' : 'tracking';
  return { container: 'keras', kerasVersion: metadata?.keras_version ?? 'unknown', config, groups, naming };
}

async function readLegacyH5(bytes: Uint8Array, what: string): Promise<KerasFile> {
  const root = await readHdf5(bytes, what);
  const configText = text(root.attrs.model_config);
  if (!configText) {
    throw new BadRequestError(`${what} is an HDF5 file without a Keras model config (no model_config attribute): a weights-only file (save_weights) or not a Keras model`);
  }
  const config = parseJson(new TextEncoder().encode(configText), `${what}: model_config`);
  return { container: 'h5', kerasVersion: text(root.attrs.keras_version) ?? 'unknown', config, groups: h5Groups(root), naming: 'layer' };
}

/** Reads a `.keras` or `.h5` file; `what` names it in messages. */
export async function readKerasFile(bytes: Uint8Array, what: string): Promise<KerasFile> {
  if (startsWith(bytes, ZIP)) return readZip(bytes, what);
  if (startsWith(bytes, HDF5)) return readLegacyH5(bytes, what);
  throw new BadRequestError(`${what} is neither a .keras file (a zip) nor a Keras HDF5 file (.h5): its first bytes are neither`);
}
