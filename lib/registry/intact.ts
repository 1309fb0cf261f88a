/**
 * A version's files as its manifest lists them (each file's sha256), checked before an alias is
 * pointed at it: moved to a damaged version, the alias would answer every request it serves with a
 * 500 until someone moved it again. The loader checks the same on every load (loader/readVersion.ts).
 */
import { ConflictError, NotFoundError } from '../errors.js';
import type { ObjectStore } from '../store/index.js';
import { sha256Hex } from './checksum.js';
import { keys } from './keys.js';
import type { Manifest } from './manifest.js';

/** Throws a 409 naming the first file of version `version` of `model` (its manifest `manifest`) that is missing or not the bytes its sha256 says. */
export async function checkVersionIntact(store: ObjectStore, model: string, version: number, manifest: Manifest, alias: string): Promise<void> {
  // One file at a time: a large model's shards are not all held at once.
  for (const [file, expected] of Object.entries(manifest.files)) {
    const bytes = await store.get(keys.file(model, version, file)).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    const problem = bytes === undefined ? 'is missing from the store' : sha256Hex(bytes) === expected ? undefined : 'does not match its sha256 in the manifest';
    if (problem !== undefined) {
      throw new ConflictError(
        `version ${version} of ${model} is damaged (${file} ${problem}): alias ${alias} was not moved; push the model again as a new version, or point the alias at another`,
      );
    }
  }
}
