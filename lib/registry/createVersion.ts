/**
 * Creating a version, race-free on any store:
 *   1. claim number n by creating versions/n/model.json with a create-only write
 *      (S3 If-None-Match: *, link() on disk); on conflict try n+1;
 *   2. write the weight shards;
 *   3. write manifest.json, the commit marker, last (also create-only).
 * A writer that dies between 1 and 3 leaves a claimed number with no manifest: invisible, never reused.
 */
import { BadRequestError, ConflictError } from '../errors.js';
import { kindOf } from '../inputs/kinds.js';
import { fitsShape } from '../tensors/data.js';
import { anyRows } from '../tensors/fixedBatch.js';
import type { ObjectStore } from '../store/index.js';
import { checkWeightFiles, fileBytes, formatOf, parseModelJson, weightPaths, type ModelFiles } from './artifacts.js';
import { sha256Hex } from './checksum.js';
import { keys } from './keys.js';
import { manifestSchema, type Manifest, type ManifestFields, type Signature } from './manifest.js';
import { validateName } from './names.js';
import { highestClaimedVersion } from './versions.js';

const MAX_CLAIM_ATTEMPTS = 20;

export interface CreateVersionOptions {
  /** Called after each file is written (the CLI draws a progress bar from it). */
  onProgress?: (written: number, total: number) => void;
  /** Infers the signature from the model when fields.signature is absent. */
  inferSignature?: (files: ModelFiles) => Promise<Signature>;
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
    throw new BadRequestError(`the ${settings.kind} preprocessing makes rows of shape [${rowShape}], but input ${input.name} takes [${input.shape.slice(1)}] (-1 = any size)`);
  }
}

export async function createVersion(store: ObjectStore, model: string, files: ModelFiles, fields: ManifestFields, options: CreateVersionOptions = {}): Promise<Manifest> {
  validateName(model);
  // Everything is checked before the first write, so a bad push writes nothing.
  const modelJson = parseModelJson(files.get('model.json'));
  checkWeightFiles(modelJson, files);
  const shards = weightPaths(modelJson);
  const signature = fields.signature ?? (await options.inferSignature?.(files));
  if (!signature) throw new Error('createVersion needs a signature or an inferSignature function');
  const checksums = Object.fromEntries(['model.json', ...shards].map((p) => [p, sha256Hex(fileBytes(files, p))]));
  const draft = { ...fields, name: model, version: 1, format: formatOf(modelJson), signature, files: checksums, createdAt: new Date().toISOString() };
  checkedManifest(draft); // fail on bad fields before claiming a number

  const total = shards.length + 2;
  const version = await claimVersion(store, model, fileBytes(files, 'model.json'));
  options.onProgress?.(1, total);
  for (const [index, shard] of shards.entries()) {
    await store.put(keys.file(model, version, shard), fileBytes(files, shard), { contentType: 'application/octet-stream' });
    options.onProgress?.(index + 2, total);
  }
  const manifest = checkedManifest({ ...draft, version });
  await store.put(keys.manifest(model, version), JSON.stringify(manifest, null, 2), { ifNoneMatch: true, contentType: 'application/json' });
  options.onProgress?.(total, total);
  return manifest;
}
