/** Fresh empty stores for tests: a temp folder, and a wrapper that records every call made. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FolderStore } from '../../lib/store/folder.js';
import type { ObjectStore } from '../../lib/store/index.js';

export async function tempFolderStore(): Promise<FolderStore> {
  return new FolderStore(await mkdtemp(path.join(tmpdir(), 'store-')));
}

export interface RecordingStore extends ObjectStore {
  calls: { method: string; key: string }[];
}

/** Delegates to a real store and records (method, key) of each call. */
export function recording(inner: ObjectStore): RecordingStore {
  const calls: { method: string; key: string }[] = [];
  const wrap =
    <A extends unknown[], R>(method: string, fn: (key: string, ...rest: A) => Promise<R>) =>
    (key: string, ...rest: A) => {
      calls.push({ method, key });
      return fn.call(inner, key, ...rest);
    };
  return {
    uri: inner.uri,
    calls,
    get: wrap('get', inner.get),
    getStream: wrap('getStream', inner.getStream),
    head: wrap('head', inner.head),
    put: wrap('put', inner.put),
    putStream: wrap('putStream', inner.putStream),
    delete: wrap('delete', inner.delete),
    listPage: wrap('listPage', inner.listPage),
  };
}

/** Copies a folder into a store under `prefix`, as `aws s3 sync <dir> s3://bucket/<prefix>` would. */
export async function syncFolder(store: ObjectStore, dir: string, prefix = ''): Promise<void> {
  const { readdir, readFile } = await import('node:fs/promises');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries.filter((e) => e.isFile())) {
    const file = path.join(entry.parentPath, entry.name);
    await store.put(prefix + path.relative(dir, file).split(path.sep).join('/'), new Uint8Array(await readFile(file)));
  }
}
