/**
 * One uploaded model file -> a new version, and an outcome record next to it. Idempotent by ETag:
 * an outcome for the same ETag means the upload was imported (or refused) already, so a
 * redelivered event changes nothing; a new upload at the same key is imported again. A retry after
 * the version was made but not its outcome finds that version by its lineage (key and sha256); two
 * deliveries at once make one version (its claim). The upload is read pinned to the ETag its run
 * began with, and its outcome is not written once another upload has replaced it. A client
 * error (not a Keras file, a layer TF.js cannot run, bad manifest fields) is recorded as failed and
 * nothing else is written; a store or backend failure is thrown, so Lambda retries the event.
 */
import { createHash } from 'node:crypto';
import { BadRequestError, IntegrityError, NotFoundError, ServiceError } from '../errors.js';
import { initBackend } from '../runtime/backend.js';
import type { MemoryBudget } from '../runtime/memory.js';
import { withRecovery } from '../runtime/recovery.js';
import { pushTfjsZip } from '../ops/pushFolder.js';
import { pushKerasFile } from '../ops/pushKeras.js';
import type { ManifestFields } from '../registry/manifest.js';
import { validateName } from '../registry/names.js';
import { keys } from '../registry/keys.js';
import { listVersions, readManifest } from '../registry/versions.js';
import { getJson, ObjectChangedError, pinnableEtag, versionOf, type ObjectStore } from '../store/index.js';
import { checkImportFits, contentBytes } from './plan.js';
import { misplacedImport, outcomeKey, parseImportKey, type ImportKey } from './paths.js';

export interface ImportOutcome {
  status: 'created' | 'failed';
  source: { key: string; etag: string; size: number };
  /** Absent when the key names no model (misplacedImport). */
  model?: string;
  version?: number;
  error?: string;
  finishedAt: string;
}

async function optionalJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  try {
    return await getJson<T>(store, key);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    // A file that is not JSON (getJson: damage) is the uploader's to mend: a failed outcome says so.
    if (error instanceof IntegrityError) throw new BadRequestError(`${key} is not valid JSON`);
    throw error;
  }
}

const isObject = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The version an earlier attempt at this very upload created, if any: an import that got as far as
 * its version but not its outcome (the outcome write failed, Lambda retried) must not make a second.
 */
async function earlierVersion(registry: ObjectStore, target: ImportKey, sha256: string): Promise<number | undefined> {
  const versions = await listVersions(registry, target.model);
  for (const version of versions.slice(-50).reverse()) {
    // A damaged version (its manifest not one) was made by no import to find: it must not block the model's imports.
    const manifest = await readManifest(registry, target.model, version).catch((error: unknown) => {
      if (error instanceof IntegrityError) return undefined;
      throw error;
    });
    if (manifest?.lineage.source === target.key && manifest.lineage.sourceSha256 === sha256) return version;
  }
  return undefined;
}

/**
 * The upload's bytes as of version `etag` (the read pinned to it where the store gives ETags), or
 * undefined when it has been replaced or deleted since: a newer upload's own event imports that.
 * Unpinned, an event's run read the newer bytes and recorded them under the older ETag.
 */
async function readUpload(source: ObjectStore, key: string, etag: string): Promise<Uint8Array | undefined> {
  const pinned = pinnableEtag(etag);
  try {
    return pinned ? new Uint8Array(Buffer.concat(await (await source.getStream(key, { ifMatch: pinned })).toArray())) : await source.get(key);
  } catch (error) {
    if (error instanceof ObjectChangedError || error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** The version made of the upload (version `etag` of it), or undefined when it was replaced before it could be read. */
async function importFile(source: ObjectStore, registry: ObjectStore, target: ImportKey, size: number, etag: string, budget: MemoryBudget): Promise<number | undefined> {
  validateName(target.model);
  await initBackend(); // the budget counts what TF.js holds
  // Refused before it is downloaded when the upload alone is too much (its content is at least its size),
  // and before anything is inflated when what its zip directory declares is.
  checkImportFits(target, size, size, budget);
  const fields = (await optionalJson<unknown>(source, target.meta)) ?? {};
  if (!isObject(fields)) throw new BadRequestError(`${target.meta} must hold a JSON object of manifest fields (labels, task, scores, transforms, description)`);
  const bytes = await readUpload(source, target.key, etag);
  if (!bytes) return undefined;
  checkImportFits(target, bytes.byteLength, contentBytes(bytes, target.key), budget);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const earlier = await earlierVersion(registry, target, sha256);
  if (earlier !== undefined) return earlier;
  const where = target.key;
  // Two deliveries of one upload's event at once each passed the look above: of their versions, the one claimed first is the upload's.
  const claim = keys.importClaim(target.model, createHash('sha256').update(`${where}\n${sha256}`).digest('hex'));
  if (target.format === 'tfjs-zip') {
    return (await pushTfjsZip(registry, bytes, sha256, where, target.model, fields as Partial<ManifestFields>, { claim })).version;
  }
  return (await pushKerasFile(registry, bytes, where, target.model, fields as Partial<ManifestFields>, { claim })).version;
}

/** An upload the trigger matched that names no model: a failed outcome next to it says where it belongs. */
async function misplaced(source: ObjectStore, key: string): Promise<ImportOutcome | undefined> {
  const problem = misplacedImport(key);
  const head = problem === undefined ? undefined : await source.head(key);
  if (!head) return undefined;
  const outcome: ImportOutcome = { status: 'failed', source: { key, etag: versionOf(head), size: head.size }, error: problem, finishedAt: new Date().toISOString() };
  await source.put(outcomeKey(key), JSON.stringify(outcome, null, 2), { contentType: 'application/json' });
  return outcome;
}

/** Imports the object at `key` of `source` into the model registry; undefined when the key is not an import. */
export async function importObject(source: ObjectStore, registry: ObjectStore, key: string, budget: MemoryBudget): Promise<ImportOutcome | undefined> {
  const target = parseImportKey(key);
  if (!target) return misplaced(source, key);
  const head = await source.head(key);
  if (!head) return undefined; // deleted since the event
  const etag = versionOf(head);
  // An outcome that is not JSON is overwritten; a store that fails is thrown (Lambda retries the event).
  const previous = await optionalJson<ImportOutcome>(source, target.outcome).catch((error: unknown) => {
    if (error instanceof BadRequestError) return undefined;
    throw error;
  });
  if (previous?.source.etag === etag) return previous;
  const base = { source: { key, etag, size: head.size }, model: target.model };
  let outcome: ImportOutcome;
  try {
    // A wasm trap (the model's trial run at push, its load) resets the backend before the error goes on:
    // the warm function's next import or request finds a working one.
    const version = await withRecovery(() => importFile(source, registry, target, head.size, etag, budget));
    if (version === undefined) return undefined; // replaced since the event: the new upload's event imports it
    outcome = { ...base, status: 'created', version, finishedAt: new Date().toISOString() };
  } catch (error) {
    if (!(error instanceof ServiceError && error.statusCode < 500)) throw error;
    outcome = { ...base, status: 'failed', error: error.message, finishedAt: new Date().toISOString() };
  }
  // An upload replaced meanwhile has its own event, whose outcome this one must not overwrite.
  const now = await source.head(key);
  if (now && versionOf(now) !== etag) return outcome;
  await source.put(target.outcome, JSON.stringify(outcome, null, 2), { contentType: 'application/json' });
  return outcome;
}
