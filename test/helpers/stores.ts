/**
 * Fresh empty stores for tests: a temp folder, a wrapper that records every call made, and one that
 * holds chosen writes back (a store that has become slow for them).
 */
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FolderStore } from '../../lib/store/folder.js';
import type { ObjectStore } from '../../lib/store/index.js';

export async function tempFolderStore(): Promise<FolderStore> {
  return new FolderStore(await mkdtemp(path.join(tmpdir(), 'store-')));
}

/** A temp folder store holding the demo iris model and its test data set (`_datasets/iris-test.csv`): what the job tests run. */
export async function irisFolderStore(): Promise<FolderStore> {
  const store = await tempFolderStore();
  const root = fileURLToPath(store.uri);
  await cp('models/iris', path.join(root, 'iris'), { recursive: true });
  await cp('models/_datasets/iris-test.csv', path.join(root, '_datasets/iris-test.csv'));
  return store;
}

/**
 * `_datasets/iris-12k.csv`: iris's 30 test rows 400 times (12,000 rows), in the store irisFolderStore
 * makes: enough chunks and reads of the file for a job to be stopped, or taken over, between them.
 */
export async function putIris12k(store: ObjectStore): Promise<string> {
  const [header, ...rows] = new TextDecoder()
    .decode(await store.get('_datasets/iris-test.csv'))
    .trim()
    .split('\n');
  const key = '_datasets/iris-12k.csv';
  await store.put(key, [header, ...Array.from({ length: 400 }, () => rows).flat()].join('\n'));
  return key;
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

export interface HoldingStore extends ObjectStore {
  /** From now on, writes of the chosen keys wait (unsent) until release(); the next `passing` of them go through. */
  hold(passing?: number): void;
  /** Sends the writes held, in order, and stops holding. */
  release(): void;
  /** Writes waiting now. */
  readonly waiting: number;
}

/**
 * Delegates to a real store; while held, a put of a key `chosen` picks waits before it is sent, as
 * on a store too slow to answer it: when released it is sent as it was asked (a conditional write
 * keeps its condition, now judged on what the store holds then).
 */
export function holding(inner: ObjectStore, chosen: (key: string) => boolean): HoldingStore {
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  let passing = 0;
  let waiting = 0;
  const put: ObjectStore['put'] = async (key, ...rest) => {
    if (gate && chosen(key)) {
      if (passing > 0) passing -= 1;
      else {
        waiting += 1;
        await gate.promise;
        waiting -= 1;
      }
    }
    return inner.put(key, ...rest);
  };
  return {
    uri: inner.uri,
    get: (...args) => inner.get(...args),
    getStream: (...args) => inner.getStream(...args),
    head: (...args) => inner.head(...args),
    put,
    putStream: (...args) => inner.putStream(...args),
    delete: (...args) => inner.delete(...args),
    listPage: (...args) => inner.listPage(...args),
    hold(pass = 0) {
      passing = pass;
      if (gate) return;
      let open = () => {};
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
    get waiting() {
      return waiting;
    },
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
