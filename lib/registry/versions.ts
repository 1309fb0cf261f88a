/** Reading what exists: models, committed versions, manifests. */
import { IntegrityError, NotFoundError } from '../errors.js';
import { getJson, listAll, listPrefixes, type ObjectStore } from '../store/index.js';
import { COMMITTED_VERSION, keys } from './keys.js';
import { DAMAGED_MANIFEST, parseManifest, type Manifest } from './manifest.js';
import { isValidName, validateName } from './names.js';

/** Committed versions (those with a manifest.json), ascending. Partial versions are invisible. */
export async function listVersions(store: ObjectStore, model: string): Promise<number[]> {
  validateName(model);
  const prefix = keys.versionsPrefix(model);
  const versions: number[] = [];
  for await (const object of listAll(store, prefix)) {
    const match = COMMITTED_VERSION.exec(object.key.slice(prefix.length));
    if (match) versions.push(Number(match[1]));
  }
  return versions.sort((a, b) => a - b);
}

/** The highest version number ever claimed, committed or not: new versions go above it. */
export async function highestClaimedVersion(store: ObjectStore, model: string): Promise<number> {
  const prefix = keys.versionsPrefix(model);
  const numbers = (await listPrefixes(store, prefix)).map((p) => Number(p.slice(prefix.length, -1))).filter((n) => Number.isInteger(n) && n > 0);
  return Math.max(0, ...numbers);
}

/** Model names with at least one committed version, sorted. */
export async function listModels(store: ObjectStore): Promise<string[]> {
  const names = (await listPrefixes(store, '')).map((p) => p.slice(0, -1)).filter(isValidName);
  const withVersions = await Promise.all(names.map(async (name) => ((await listVersions(store, name)).length > 0 ? name : undefined)));
  return withVersions.filter((n): n is string => n !== undefined).sort();
}

export async function readManifest(store: ObjectStore, model: string, version: number): Promise<Manifest> {
  validateName(model);
  const key = keys.manifest(model, version);
  try {
    return parseManifest(await getJson(store, key), `${store.uri}${key}`);
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError(`model ${model} has no version ${version}`);
    // Not JSON at all: the same damage as a manifest that is not one, in the same words.
    if (error instanceof IntegrityError) throw new IntegrityError(error.message, { cause: error, publicMessage: DAMAGED_MANIFEST });
    throw error;
  }
}

/** The store holds no version of `model` at all (a 404), told apart from a missing version or alias by its class. */
export class NoSuchModelError extends NotFoundError {
  constructor(readonly model: string) {
    super(`no model named ${model}`);
    // Named as its kind: the batch state machine's Catch (serverless.yml) and the failure step match errors by name.
    this.name = 'NotFoundError';
  }
}

export async function latestVersion(store: ObjectStore, model: string): Promise<number> {
  const versions = await listVersions(store, model);
  if (versions.length === 0) throw new NoSuchModelError(model);
  return versions[versions.length - 1];
}
