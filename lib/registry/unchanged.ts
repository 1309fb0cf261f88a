/**
 * Whether a push would only repeat the model's highest version: the same files (by sha256) and the
 * same manifest besides its number, its time and the path it was pushed from. A deploy that pushes
 * on every run (`modelctl push --skip-unchanged`) then makes a version only when something changed,
 * and a push retried after its answer was lost makes none.
 */
import { IntegrityError, NotFoundError } from '../errors.js';
import type { ObjectStore } from '../store/index.js';
import type { Manifest } from './manifest.js';
import { latestVersion, readManifest } from './versions.js';

/**
 * The manifest as compared: without what differs between two pushes of the same thing (its number,
 * its time, where it came from: the path, the sha256 of a zip or Keras file, which a zip's entry
 * times change, and the backend its example ran on); the files' own sha256 and every setting stay.
 */
function comparable(manifest: Manifest): unknown {
  const { version: _version, createdAt: _createdAt, backend: _backend, lineage, ...rest } = manifest;
  const { source: _source, sourceSha256: _sourceSha256, ...kept } = lineage;
  return { ...rest, lineage: kept };
}

/** JSON with every object's keys in order: a manifest read back may hold them in another. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The highest version when `draft` (a version about to be made) would repeat it, else undefined (none yet, or it differs). */
export async function sameAsHighest(store: ObjectStore, draft: Manifest): Promise<Manifest | undefined> {
  let highest: Manifest;
  try {
    highest = await readManifest(store, draft.name, await latestVersion(store, draft.name));
  } catch (error) {
    // No version yet, or a damaged highest one: nothing this push would repeat.
    if (error instanceof NotFoundError || error instanceof IntegrityError) return undefined;
    throw error;
  }
  return canonical(comparable(highest)) === canonical(comparable(draft)) ? highest : undefined;
}
