import { rollbackAlias, setAlias, validateName, validateVersion } from '../../lib/registry/index.js';
import type { ObjectStore } from '../../lib/store/index.js';

export async function promote(store: ObjectStore, model: string, version: string, alias: string): Promise<string> {
  const record = await setAlias(store, validateName(model), alias, validateVersion(version));
  return `${model}@${alias} -> ${record.version}${record.previous.length ? ` (was ${record.previous[0]})` : ''}`;
}

export async function rollback(store: ObjectStore, model: string, alias: string): Promise<string> {
  const record = await rollbackAlias(store, validateName(model), alias);
  return `${model}@${alias} -> ${record.version} (rolled back)`;
}
