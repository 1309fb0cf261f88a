/**
 * modelctl prune: the files of versions staged and never committed (a push cut off, a fine-tune
 * attempt that lost its job's claim), removed once no writer can still commit them, but model.json,
 * which keeps the number claimed (lib/registry/staged.ts). Run with the operator's credentials: no
 * function may delete there.
 */
import { randomUUID } from 'node:crypto';
import { megabytes } from '../../lib/bytes.js';
import { NotFoundError } from '../../lib/errors.js';
import { isValidName, listVersions, removableFiles, removeStaged, stagedVersions, type StagedVersion } from '../../lib/registry/index.js';
import { listAll, listPrefixes, type ObjectStore } from '../../lib/store/index.js';
import { table } from '../format.js';
import { LIST_HINT, modelArgument } from '../refs.js';

export interface PruneOptions {
  /** Only versions whose last file is at least this old (ms): a writer never pauses that long between two of its writes. */
  olderThan: number;
  dryRun: boolean;
  json: boolean;
}

/** A type, not an interface: the table takes it as a record of strings and numbers. */
type Row = {
  model: string;
  version: number;
  /** The files prune removes (all but model.json) and their size. */
  files: number;
  size: string;
  lastWrite: string;
  action: string;
};

export async function prune(store: ObjectStore, modelText: string | undefined, options: PruneOptions): Promise<string> {
  const names = modelText === undefined ? (await listPrefixes(store, '')).map((p) => p.slice(0, -1)).filter(isValidName) : [modelArgument(modelText)];
  const rows: Row[] = [];
  let freed = 0;
  const now = await storeNow(store);
  for (const model of names) {
    const staged = await stagedVersions(store, model);
    if (modelText !== undefined && staged.length === 0 && (await listVersions(store, model)).length === 0) {
      throw new NotFoundError(`no model named ${model} (${LIST_HINT})`);
    }
    // One pruned before is its model.json alone, kept to hold its number: nothing left to remove.
    for (const version of staged.filter((v) => removableFiles(v).length > 0)) {
      const action = await pruneOne(store, version, now, options);
      if (action === 'removed' || action === 'would remove') freed += version.removableBytes;
      const row = { model, version: version.version, files: removableFiles(version).length, size: megabytes(version.removableBytes) };
      rows.push({ ...row, lastWrite: version.lastWrite.toISOString().slice(0, 19), action });
    }
  }
  if (options.json) return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return `no staged versions${modelText ? ` of ${modelText}` : ''}: every version number claimed is committed`;
  const total = `${options.dryRun ? 'would free' : 'freed'} ${megabytes(freed)}`;
  return `${table(rows)}\n${total} (each version's model.json stays, holding its number)`;
}

async function pruneOne(store: ObjectStore, version: StagedVersion, now: number, options: PruneOptions): Promise<string> {
  if (version.claimedBy !== undefined) return `kept: claimed by ${version.claimedBy} (whoever runs its job or import again commits it)`;
  if (now - version.lastWrite.getTime() < options.olderThan) return 'kept: written too recently (a writer may still commit it)';
  if (options.dryRun) return 'would remove';
  return (await removeStaged(store, version)) ? 'removed' : 'kept: committed meanwhile';
}

/**
 * The time by the store's clock, which wrote the times compared with it: an object written and read
 * back. By this machine's clock, ten minutes fast, --older-than 15m would remove what is five old.
 */
async function storeNow(store: ObjectStore): Promise<number> {
  const probe = `${PROBES}clock-${randomUUID()}`;
  await store.put(probe, '');
  let now = Date.now();
  try {
    now = (await store.head(probe))?.lastModified?.getTime() ?? now;
  } finally {
    // Best effort: the time is read; a probe an earlier prune could not delete goes now.
    await store.delete(probe).catch(() => undefined);
    for await (const object of listAll(store, PROBES)) {
      if (object.key !== probe && (object.lastModified?.getTime() ?? now) < now - PROBE_AGE_MS) await store.delete(object.key).catch(() => undefined);
    }
  }
  return now;
}

/** Where prune writes its clock probes, and how old a probe left behind (its delete failed) must be to go. */
const PROBES = '_prune/';
const PROBE_AGE_MS = 10 * 60_000;
