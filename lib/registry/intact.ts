/**
 * A version's files checked against the sha256 its manifest lists for each. The loader checks
 * every file it reads (loader/readVersion.ts); an alias is checked before it is pointed at a
 * version: moved to a damaged one, it would answer every request it serves with a 500 until
 * someone moved it again.
 */
import { ConflictError, NotFoundError } from '../errors.js';
import type { ObjectStore } from '../store/index.js';
import { sha256Hex } from './checksum.js';
import { keys } from './keys.js';
import type { Manifest } from './manifest.js';

/** A file of a version, its bytes when they are what the manifest says, or what is wrong with it. */
export type CheckedFile = { bytes: Uint8Array; problem?: undefined } | { bytes?: undefined; problem: string };

/** Reads `file` of version `version` of `model` (its manifest `manifest`) and checks it; a store error other than not-found is thrown. */
export async function readVersionFile(store: ObjectStore, model: string, version: number, manifest: Manifest, file: string): Promise<CheckedFile> {
  const expected = manifest.files[file];
  if (!expected) return { problem: 'is not listed in the manifest' };
  const bytes = await store.get(keys.file(model, version, file)).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (bytes === undefined) return { problem: 'is missing from the store' };
  if (sha256Hex(bytes) !== expected) return { problem: 'does not match its sha256 in the manifest' };
  return { bytes };
}

/** Throws a 409 naming the first file of version `version` of `model` (its manifest `manifest`) that is missing or not the bytes its sha256 says. */
export async function checkVersionIntact(store: ObjectStore, model: string, version: number, manifest: Manifest, alias: string): Promise<void> {
  // One file at a time: a large model's shards are not all held at once.
  for (const file of Object.keys(manifest.files)) {
    const { problem } = await readVersionFile(store, model, version, manifest, file);
    if (problem !== undefined) {
      throw new ConflictError(
        `version ${version} of ${model} is damaged (${file} ${problem}): alias ${alias} was not moved; push the model again as a new version, or point the alias at another`,
      );
    }
  }
}
