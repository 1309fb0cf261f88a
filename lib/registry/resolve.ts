/**
 * Version resolution, as every route does it: an explicit version, else the alias, else
 * `production` when it exists, else the highest committed version.
 */
import { NotFoundError } from '../errors.js';
import type { ObjectStore } from '../store/index.js';
import { readAlias } from './aliases.js';
import { DEFAULT_ALIAS, LATEST, validateName, type ModelRef } from './names.js';
import { latestVersion, readManifest } from './versions.js';

/**
 * The version `ref` names, and the alias it was read through (undefined for an explicit version or
 * the highest committed one): a model's default is its `production` alias when that exists, so
 * the two name one version, which the alias cache confirms for both.
 */
export async function resolveVersion(store: ObjectStore, ref: ModelRef): Promise<{ version: number; alias?: string }> {
  validateName(ref.name);
  if (ref.version !== undefined) {
    await readManifest(store, ref.name, ref.version); // 404 unless committed
    return { version: ref.version };
  }
  if (ref.alias !== undefined && ref.alias !== LATEST) {
    const record = await readAlias(store, ref.name, ref.alias);
    if (!record) {
      await latestVersion(store, ref.name); // an unknown model is reported as such, not as an unknown alias
      throw new NotFoundError(`model ${ref.name} has no alias ${ref.alias}`);
    }
    return { version: record.version, alias: ref.alias };
  }
  if (ref.alias === undefined) {
    const production = await readAlias(store, ref.name, DEFAULT_ALIAS);
    if (production) return { version: production.version, alias: DEFAULT_ALIAS };
  }
  return { version: await latestVersion(store, ref.name) };
}
