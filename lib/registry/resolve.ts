/**
 * Version resolution, as every route does it: an explicit version, else the alias, else
 * `production` when it exists, else the highest committed version.
 */
import { NotFoundError } from '../errors.js';
import type { ObjectStore } from '../store/index.js';
import { readAlias } from './aliases.js';
import { DEFAULT_ALIAS, LATEST, validateName, type ModelRef } from './names.js';
import { latestVersion, readManifest } from './versions.js';

export async function resolveVersion(store: ObjectStore, ref: ModelRef): Promise<number> {
  validateName(ref.name);
  if (ref.version !== undefined) {
    await readManifest(store, ref.name, ref.version); // 404 unless committed
    return ref.version;
  }
  if (ref.alias !== undefined && ref.alias !== LATEST) {
    const record = await readAlias(store, ref.name, ref.alias);
    if (!record) {
      await latestVersion(store, ref.name); // an unknown model is reported as such, not as an unknown alias
      throw new NotFoundError(`model ${ref.name} has no alias ${ref.alias}`);
    }
    return record.version;
  }
  if (ref.alias === undefined) {
    const production = await readAlias(store, ref.name, DEFAULT_ALIAS);
    if (production) return production.version;
  }
  return latestVersion(store, ref.name);
}
