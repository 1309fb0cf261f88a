/**
 * One uploaded model file -> a new version, and an outcome record next to it. Idempotent by ETag:
 * an outcome for the same ETag means the upload was imported (or refused) already, so a
 * redelivered event changes nothing; a new upload at the same key is imported again. A client
 * error (not a Keras file, a layer TF.js cannot run, bad manifest fields) is recorded as failed and
 * nothing else is written; a store or backend failure is thrown, so Lambda retries the event.
 */
import { unzipSync } from 'fflate';
import { BadRequestError, NotFoundError, ServiceError } from '../errors.js';
import { initBackend } from '../runtime/backend.js';
import type { MemoryBudget } from '../runtime/memory.js';
import { pushModelFiles } from '../ops/pushFolder.js';
import { pushKerasFile } from '../ops/pushKeras.js';
import type { ModelFiles } from '../registry/artifacts.js';
import type { ManifestFields } from '../registry/manifest.js';
import { validateName } from '../registry/names.js';
import { getJson, type ObjectStore } from '../store/index.js';
import { parseImportKey, type ImportKey } from './paths.js';

export interface ImportOutcome {
  status: 'created' | 'failed';
  source: { key: string; etag: string; size: number };
  model: string;
  version?: number;
  error?: string;
  finishedAt: string;
}

/**
 * An import holds the file, its unzipped content and the built model at once: about four times
 * the file. Refused up front, with figures, when that does not fit the function's budget.
 */
const WORKING_COPIES = 4;

async function optionalJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  try {
    return await getJson<T>(store, key);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    if (error instanceof SyntaxError) throw new BadRequestError(`${key} is not valid JSON`);
    throw error;
  }
}

/** A zip of a TF.js model folder: model.json and its shards, at the top or in one folder. */
function tfjsFilesOf(bytes: Uint8Array, key: string): ModelFiles {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (error) {
    throw new BadRequestError(`${key} is not a readable zip (damaged or truncated?): ${(error as Error).message}`);
  }
  const modelJson = Object.keys(entries).find((name) => name === 'model.json' || /^[^/]+\/model\.json$/.test(name));
  if (!modelJson) throw new BadRequestError(`${key} holds no model.json at its top or in one folder: is it a zipped TF.js model folder?`);
  const folder = modelJson.slice(0, -'model.json'.length);
  const files: ModelFiles = new Map();
  for (const [name, content] of Object.entries(entries)) if (name.startsWith(folder) && !name.endsWith('/')) files.set(name.slice(folder.length), content);
  return files;
}

async function importFile(source: ObjectStore, registry: ObjectStore, target: ImportKey, budget: MemoryBudget) {
  validateName(target.model);
  const head = await source.head(target.key);
  if (!head) throw new NotFoundError(`no object ${target.key}`);
  const needed = head.size * WORKING_COPIES;
  await initBackend(); // the budget counts what TF.js holds
  if (needed > budget.available()) {
    throw new BadRequestError(
      `${target.key} is ${Math.round(head.size / 2 ** 20)} MiB; importing it needs about ${Math.round(needed / 2 ** 20)} MiB, more than ${budget.describe()}`,
    );
  }
  const fields = (await optionalJson<Partial<ManifestFields>>(source, target.meta)) ?? {};
  const bytes = await source.get(target.key);
  const where = target.key;
  return target.format === 'tfjs-zip'
    ? pushModelFiles(registry, tfjsFilesOf(bytes, where), where, target.model, fields)
    : pushKerasFile(registry, bytes, where, target.model, fields);
}

/** Imports the object at `key` of `source` into the model registry; undefined when the key is not an import. */
export async function importObject(source: ObjectStore, registry: ObjectStore, key: string, budget: MemoryBudget): Promise<ImportOutcome | undefined> {
  const target = parseImportKey(key);
  if (!target) return undefined;
  const head = await source.head(key);
  if (!head) return undefined; // deleted since the event
  const etag = head.etag ?? String(head.size);
  // An outcome that is not JSON is overwritten; a store that fails is thrown (Lambda retries the event).
  const previous = await optionalJson<ImportOutcome>(source, target.outcome).catch((error: unknown) => {
    if (error instanceof BadRequestError) return undefined;
    throw error;
  });
  if (previous?.source.etag === etag) return previous;
  const base = { source: { key, etag, size: head.size }, model: target.model };
  let outcome: ImportOutcome;
  try {
    const manifest = await importFile(source, registry, target, budget);
    outcome = { ...base, status: 'created', version: manifest.version, finishedAt: new Date().toISOString() };
  } catch (error) {
    if (!(error instanceof ServiceError && error.statusCode < 500)) throw error;
    outcome = { ...base, status: 'failed', error: error.message, finishedAt: new Date().toISOString() };
  }
  await source.put(target.outcome, JSON.stringify(outcome, null, 2), { contentType: 'application/json' });
  return outcome;
}
