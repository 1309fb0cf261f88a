/**
 * Creating a version, race-free on any store:
 *   1. claim number n by creating versions/n/model.json with a create-only write
 *      (S3 If-None-Match: *, link() on disk); on conflict try n+1;
 *   2. write the weight shards;
 *   3. write manifest.json, the commit marker, last (also create-only).
 * A writer that dies between 1 and 3 leaves a claimed number with no manifest: invisible, never reused.
 * Steps 1-2 (stageVersion) and 3 (commitVersion) can be taken apart: a fine-tune job decides which
 * of its attempts' staged versions is the job's between them (ops/fineTune/jobVersion.ts), and the
 * attempt that lost removes its own (discardStaged).
 */
import { BadRequestError, ConflictError } from '../errors.js';
import { kindOf } from '../inputs/kinds.js';
import { fitsShape } from '../tensors/data.js';
import { anyRows } from '../tensors/fixedBatch.js';
import { putNew, type ObjectStore } from '../store/index.js';
import { checkWeightFiles, fileBytes, formatOf, parseModelJson, weightPaths, type ModelFiles } from './artifacts.js';
import { sha256Hex } from './checksum.js';
import { checkFiniteWeights } from './finiteWeights.js';
import { keys } from './keys.js';
import { manifestSchema, type Manifest, type ManifestFields, type Signature } from './manifest.js';
import { validateName } from './names.js';
import { sameAsHighest } from './unchanged.js';
import { highestClaimedVersion } from './versions.js';

const MAX_CLAIM_ATTEMPTS = 20;

export interface CreateVersionOptions {
  /** Called after each file is written (the CLI draws a progress bar from it). */
  onProgress?: (written: number, total: number) => void;
  /** Infers the signature from the model when fields.signature is absent. */
  inferSignature?: (files: ModelFiles) => Promise<Signature>;
  /**
   * createVersion makes no version when the highest one holds the same files and settings
   * (unchanged.ts), and answers that one; told through this, called with it.
   */
  onUnchanged?: (highest: Manifest) => void;
  /**
   * Stops the push before its next write (modelctl push's Ctrl-C): what it wrote of a claimed
   * version is removed, number included, and the signal's reason thrown. The commit is the last
   * write, so a push stopped before it leaves nothing, and one stopped after it is whole.
   */
  signal?: AbortSignal;
}

async function claimVersion(store: ObjectStore, model: string, modelJsonBytes: Uint8Array): Promise<number> {
  let candidate = (await highestClaimedVersion(store, model)) + 1;
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1, candidate += 1) {
    try {
      await store.put(keys.file(model, candidate, 'model.json'), modelJsonBytes, { ifNoneMatch: true, contentType: 'application/json' });
      return candidate;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new ConflictError(`could not claim a version number for ${model} after ${MAX_CLAIM_ATTEMPTS} attempts`);
}

/** The manifest a push would write, or a 400 naming every field that is wrong (nothing is written). */
function checkedManifest(draft: unknown): Manifest {
  const parsed = manifestSchema.safeParse(draft);
  if (!parsed.success) throw new BadRequestError(`invalid manifest: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  checkInputFits(parsed.data);
  return parsed.data;
}

/** The input kind's rows must fit the model's first input, or every natural request would fail. */
function checkInputFits(manifest: Manifest): void {
  const settings = manifest.transforms.input;
  if (!settings) return;
  const rowShape = kindOf(settings).rowShape(settings);
  const [input] = manifest.signature.inputs;
  // An input of unknown rank takes any rows (input.shape null: fitsShape says so); a fixed batch size is served in calls of that many.
  if (input.shape && !fitsShape(anyRows(input.shape), [1, ...rowShape])) {
    const taken = input.shape.slice(1);
    const open = taken.some((d) => d < 0) ? ' (-1 = any size)' : '';
    // The kind may know which of its settings makes that shape (an image: channels first).
    const advice = kindOf(settings).settingsFor?.(settings, taken);
    throw new BadRequestError(
      `the ${settings.kind} preprocessing makes rows of shape [${rowShape}], but input ${input.name} takes [${taken}]${open}${advice ? `: ${advice}` : ''}`,
    );
  }
}

/**
 * Steps 1 and 2: the version's number claimed and its files written, whole. Returns the manifest
 * that commits it; until commitVersion writes that, the version does not exist.
 */
export async function stageVersion(store: ObjectStore, model: string, files: ModelFiles, fields: ManifestFields, options: CreateVersionOptions = {}): Promise<Manifest> {
  return stageDraft(store, await draftManifest(model, files, fields, options), files, options);
}

/** The manifest the files and fields make, checked (a 400 naming what is wrong), its number still to be claimed. */
async function draftManifest(model: string, files: ModelFiles, fields: ManifestFields, options: CreateVersionOptions): Promise<Manifest> {
  validateName(model);
  // Everything is checked before the first write, so a bad push writes nothing.
  const modelJson = parseModelJson(files.get('model.json'));
  checkWeightFiles(modelJson, files); // and the shards' paths: each a file of this version's folder, none the registry's own
  checkFiniteWeights(modelJson, files);
  const shards = weightPaths(modelJson);
  const signature = fields.signature ?? (await options.inferSignature?.(files));
  if (!signature) throw new Error('createVersion needs a signature or an inferSignature function');
  const checksums = Object.fromEntries(['model.json', ...shards].map((p) => [p, sha256Hex(fileBytes(files, p))]));
  const draft = { ...fields, name: model, version: 1, format: formatOf(modelJson), signature, files: checksums, createdAt: new Date().toISOString() };
  return checkedManifest(draft); // fail on bad fields before claiming a number
}

/** Steps 1 and 2 for a checked draft: its number claimed, its shards written. */
async function stageDraft(store: ObjectStore, draft: Manifest, files: ModelFiles, options: CreateVersionOptions): Promise<Manifest> {
  const model = draft.name;
  const shards = weightPaths(parseModelJson(files.get('model.json')));
  const total = shards.length + 2;
  options.signal?.throwIfAborted();
  const version = await claimVersion(store, model, fileBytes(files, 'model.json'));
  const staged = { ...draft, version };
  options.onProgress?.(1, total);
  for (const [index, shard] of shards.entries()) {
    await stopIfAborted(store, staged, options.signal);
    await store.put(keys.file(model, version, shard), fileBytes(files, shard), { contentType: 'application/octet-stream' });
    options.onProgress?.(index + 2, total);
  }
  return checkedManifest(staged);
}

/** A stopped push (CreateVersionOptions.signal): its staged files removed, then the signal's reason thrown. */
async function stopIfAborted(store: ObjectStore, staged: Manifest, signal: AbortSignal | undefined): Promise<void> {
  if (!signal?.aborted) return;
  await discardStaged(store, staged);
  signal.throwIfAborted();
}

/** The manifest as written: what a second commit of the same manifest finds. */
const manifestBody = (manifest: Manifest) => JSON.stringify(manifest, null, 2);

/**
 * Step 3: the manifest written (create-only), so the staged version exists. A commit that finds this
 * very manifest written (another holder of it committed it first, or this write had landed before
 * a retry) is done; any other manifest there is a conflict.
 */
export async function commitVersion(store: ObjectStore, manifest: Manifest): Promise<void> {
  await putNew(store, keys.manifest(manifest.name, manifest.version), manifestBody(manifest), { contentType: 'application/json' });
}

/**
 * Removes the files of a version staged and never to be committed: the shards, then model.json,
 * whose create-only write claimed the number (so no other writer's files are there before it goes).
 * Never called on a version that may have been committed.
 */
export async function discardStaged(store: ObjectStore, manifest: Manifest): Promise<void> {
  const files = Object.keys(manifest.files).filter((file) => file !== 'model.json');
  for (const file of [...files, 'model.json']) await store.delete(keys.file(manifest.name, manifest.version, file));
}

export async function createVersion(store: ObjectStore, model: string, files: ModelFiles, fields: ManifestFields, options: CreateVersionOptions = {}): Promise<Manifest> {
  const draft = await draftManifest(model, files, fields, options);
  if (options.onUnchanged) {
    const highest = await sameAsHighest(store, draft);
    if (highest) {
      options.onUnchanged(highest);
      return highest;
    }
  }
  const manifest = await stageDraft(store, draft, files, options);
  await stopIfAborted(store, manifest, options.signal);
  await commitVersion(store, manifest);
  options.onProgress?.(Object.keys(manifest.files).length + 1, Object.keys(manifest.files).length + 1);
  return manifest;
}
