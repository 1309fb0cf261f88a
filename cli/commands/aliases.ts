import { aliasFileState, DEFAULT_ALIAS, deleteAlias, rollbackAlias, setAlias } from '../../lib/registry/index.js';
import { UsageError } from '../errors.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { aliasArgument, modelArgument, namingWhatExists, versionArgument } from '../refs.js';

export async function promote(store: ObjectStore, modelText: string, versionText: string, aliasText: string): Promise<string> {
  const [model, version, alias] = [modelArgument(modelText), versionArgument(versionText), aliasArgument(aliasText)];
  const asked = Date.now();
  const record = await namingWhatExists(store, model, () => setAlias(store, model, alias, version));
  // An alias already at that version is left as it was (its record older than this command): its previous version is not what it "was".
  if (Date.parse(record.updatedAt) < asked) return `${model}@${alias} -> ${record.version} (already; unchanged)`;
  return `${model}@${alias} -> ${record.version}${record.previous.length ? ` (was ${record.previous[0]})` : ''}`;
}

export async function rollback(store: ObjectStore, modelText: string, aliasText: string, fromText?: string): Promise<string> {
  const [model, alias] = [modelArgument(modelText), aliasArgument(aliasText)];
  const from = fromText === undefined ? undefined : versionArgument(fromText);
  const record = await namingWhatExists(store, model, () => rollbackAlias(store, model, alias, { from }));
  return `${model}@${alias} -> ${record.version} (rolled back)`;
}

export async function unalias(store: ObjectStore, modelText: string, aliasText: string, fromText?: string): Promise<string> {
  const [model, alias] = [modelArgument(modelText), aliasArgument(aliasText)];
  const from = fromText === undefined ? undefined : versionArgument(fromText);
  // A damaged production file names no version to give: it is removed without one (deleteAlias).
  if (alias === DEFAULT_ALIAS && from === undefined && (await aliasFileState(store, model, alias)) !== 'damaged') {
    throw new UsageError(`removing ${DEFAULT_ALIAS} changes what requests naming no version of ${model} get (its highest version): name the version it points at with --from N`);
  }
  const record = await namingWhatExists(store, model, () => deleteAlias(store, model, alias, { from }));
  return `${model}@${alias} removed${record ? ` (pointed at ${record.version})` : ' (its file was damaged)'}`;
}
