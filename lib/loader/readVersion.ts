/**
 * Fetches a committed version's files (one GET each), checks every one against the manifest's
 * sha256 and builds the TF.js model. A mismatch, a file gone, or files TF.js cannot build, is an
 * IntegrityError and nothing is returned.
 */
import { IntegrityError, UNBUILDABLE_VERSION } from '../errors.js';
import { concatWeights, formatOf, parseModelJson, weightPaths, type ModelFiles } from '../registry/artifacts.js';
import { readManifest, readVersionFile, type Manifest } from '../registry/index.js';
import { isBackendFault } from '../runtime/recovery.js';
import { checkRunsOnThisBackend } from './otherBackend.js';
import { disposeModel, modelFromMemory, useOutputOrder, type TfModel } from '../runtime/tfModel.js';
import type { ObjectStore } from '../store/index.js';

export interface LoadedModel {
  name: string;
  version: number;
  manifest: Manifest;
  model: TfModel;
  /** Weight bytes: what the model holds in backend memory, used for the cache bound. */
  bytes: number;
}

async function fetchChecked(store: ObjectStore, manifest: Manifest, file: string): Promise<Uint8Array> {
  // The manifest exists, so the version does: a file of it gone from the store is damage (500), not
  // the 404 of an unknown model or version.
  const { bytes, problem } = await readVersionFile(store, manifest.name, manifest.version, manifest, file);
  if (problem !== undefined) throw new IntegrityError(`${manifest.name}:${manifest.version}: ${file} ${problem}`);
  return bytes;
}

/**
 * Versions TF.js could not build, by store and version, for the life of the process: a failed
 * build leaks what it made (tfjs-layers' loader disposes neither the model's variables nor the
 * decoded weights when loadWeights throws: 8 tensors a request for iris), and a version is
 * immutable, so it is built at most once. The keys are versions whose files matched their
 * manifest, so their number is bounded by what is stored.
 */
const unbuildable = new Map<string, IntegrityError>();

/**
 * The last refusal of each version this process tried, of any kind (damaged files or manifest,
 * unbuildable, another backend's), until a load of it succeeds: TF Serving's status route reports
 * it. Bounded, as `unbuildable` is, by what is stored.
 */
const lastRefusal = new Map<string, IntegrityError>();

/** The version each refusal was of (an alias's answer may have moved on since). */
const refusedVersion = new WeakMap<IntegrityError, number>();

/** Why this process could not serve a version the last time it tried, if it could not. */
export function knownRefusal(store: ObjectStore, name: string, version: number): IntegrityError | undefined {
  return lastRefusal.get(`${store.uri}${name}:${version}`);
}

/** The version a refusal readVersion threw was of. */
export function versionRefused(error: IntegrityError): number | undefined {
  return refusedVersion.get(error);
}

export async function readVersion(store: ObjectStore, name: string, version: number): Promise<LoadedModel> {
  const key = `${store.uri}${name}:${version}`;
  try {
    const loaded = await buildVersion(store, name, version);
    lastRefusal.delete(key);
    return loaded;
  } catch (error) {
    if (error instanceof IntegrityError) {
      lastRefusal.set(key, error);
      refusedVersion.set(error, version);
    }
    throw error;
  }
}

async function buildVersion(store: ObjectStore, name: string, version: number): Promise<LoadedModel> {
  const known = unbuildable.get(`${store.uri}${name}:${version}`);
  if (known) throw known;
  const manifest = await readManifest(store, name, version);
  const modelJsonBytes = await fetchChecked(store, manifest, 'model.json');
  const modelJson = parseModelJson(modelJsonBytes);
  const files: ModelFiles = new Map([['model.json', modelJsonBytes]]);
  const shards = weightPaths(modelJson);
  const shardBytes = await Promise.all(shards.map((shard) => fetchChecked(store, manifest, shard)));
  for (const [i, shard] of shards.entries()) files.set(shard, shardBytes[i]);
  const model = await modelFromMemory(formatOf(modelJson), modelJson, concatWeights(modelJson, files)).catch((error: unknown) => {
    // Its files match the manifest: every retry builds the same bytes and fails the same way, so
    // not a 503 asking clients to retry. A backend fault is not the version's (withRecovery's).
    if (isBackendFault(error)) throw error;
    const refused = new IntegrityError(`${name}:${version} cannot be built: ${(error as Error)?.message}`, { cause: error, publicMessage: UNBUILDABLE_VERSION });
    unbuildable.set(`${store.uri}${name}:${version}`, refused);
    throw refused;
  });
  // A version that chose its answer output must answer from it: its outputs not matched one to one, it
  // would answer (and label) from the model's first instead, without a word.
  if (!useOutputOrder(model, manifest.signature.outputs) && manifest.answerOutput !== undefined) {
    disposeModel(model);
    const refused = new IntegrityError(
      `${name}:${version} cannot be built: its manifest's outputs do not match the model's one to one, and its answers are of output ${manifest.answerOutput}`,
      { publicMessage: UNBUILDABLE_VERSION },
    );
    unbuildable.set(`${store.uri}${name}:${version}`, refused);
    throw refused;
  }
  // Made on another backend: its trial example runs here first. Refused the same way every time, so once.
  await checkRunsOnThisBackend(model, manifest).catch((error: unknown) => {
    disposeModel(model);
    if (error instanceof IntegrityError) unbuildable.set(`${store.uri}${name}:${version}`, error);
    throw error;
  });
  return { name, version, manifest, model, bytes: shardBytes.reduce((n, b) => n + b.byteLength, 0) };
}
