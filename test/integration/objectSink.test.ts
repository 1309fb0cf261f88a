/**
 * ObjectSink, the streamed output of batch scoring, on both stores: an abort, whenever it comes,
 * leaves nothing behind and never becomes an uncaught 'error' (which ends a Lambda process, or
 * `serverless offline` with every function in it). The first abort case is the one a file that
 * fails at its first bytes (a header without the model's columns) meets: the store has not begun
 * reading yet.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectSink } from '../../lib/batch/sink.js';
import { isStoreFailure } from '../../lib/errors.js';
import { openStore } from '../../lib/store/index.js';
import { FolderStore } from '../../lib/store/folder.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { startProxiedS3, type ProxiedS3 } from '../helpers/proxiedS3.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';

let s3: S3rverHandle;
let folderDir: string;
let folder: FolderStore;
beforeAll(async () => {
  s3 = await startS3rver();
  folderDir = await mkdtemp(path.join(tmpdir(), 'sink-'));
  folder = new FolderStore(folderDir);
});
afterAll(() => s3?.stop());

const uncaught: Error[] = [];
const onUncaught = (error: Error) => uncaught.push(error);

/** What is under sink/: objects, and for the folder every file (its temp files are not objects). */
async function leftovers(store: ObjectStore): Promise<string[]> {
  if (store === folder) return readdir(path.join(folderDir, 'sink')).catch(() => []);
  return (await store.listPage('sink/')).objects.map((o) => o.key);
}

describe.each([
  ['a folder', () => folder as ObjectStore],
  ['S3 (s3rver)', () => s3.store],
])('ObjectSink on %s', (_name, storeOf) => {
  it.each([
    ['before the store has begun reading', async (_sink: ObjectSink) => undefined],
    ['after some text was written', async (sink: ObjectSink) => sink.write('a,b\n1,2\n')],
  ])('aborted %s: the abort settles, nothing is stored, no uncaught error', async (when, before) => {
    const store = storeOf();
    const key = `sink/${when.replace(/\W+/g, '-')}.csv`;
    uncaught.length = 0;
    process.on('uncaughtException', onUncaught);
    try {
      const sink = new ObjectSink(store, key, 'text/csv');
      await before(sink);
      await sink.abort(new Error('the file failed'));
      // Give any late 'error' event a turn of the loop to surface.
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(await store.head(key)).toBeUndefined();
    expect(await leftovers(store)).toEqual([]);
  });

  it('writes the whole text when closed', async () => {
    const store = storeOf();
    const sink = new ObjectSink(store, 'sink/whole.csv', 'text/csv');
    await sink.write('a,b\n');
    await sink.write('1,2\n');
    await sink.close();
    expect(Buffer.from(await store.get('sink/whole.csv')).toString()).toBe('a,b\n1,2\n');
    await store.delete('sink/whole.csv');
  });
});

// A part refused past the client's retries: lib-storage stops reading the stream, which is destroyed
// with a bare AbortError that the sink's wait for 'drain' saw first. Told so, a batch run recorded
// "failed: internal error" for good where the store had only shed load (isStoreFailure: retry).
describe('ObjectSink on S3 refusing its parts', () => {
  let proxied: ProxiedS3;
  beforeAll(async () => {
    proxied = await startProxiedS3([]);
  });
  afterAll(() => proxied?.stop());

  it("fails with the store's own error, a store failure, and leaves no object", async () => {
    const store = openStore(proxied.s3.uri, {
      ...proxied.s3.s3Options,
      endpoint: proxied.proxy.endpoint,
      retry: { maxAttempts: 1, connectionTimeoutMs: 1000, socketTimeoutMs: 5000 },
    });
    proxied.proxy.fail(({ method, query }) => method === 'PUT' && query.has('partNumber'));
    const sink = new ObjectSink(store, 'sink/refused.csv', 'text/csv');
    const line = `${'x'.repeat(1023)}\n`;
    const written = (async () => {
      for (let i = 0; i < 40 * 1024; i++) await sink.write(line); // 40 MB: parts of 5 MB
      await sink.close();
    })();
    const error = await written.then(
      () => undefined,
      (e: unknown) => e,
    );
    proxied.proxy.fail(undefined);
    expect((error as Error)?.name).toBe('SlowDown');
    expect(isStoreFailure(error)).toBe(true);
    expect(await proxied.store.head('sink/refused.csv')).toBeUndefined();
    expect(proxied.proxy.openUploads()).toEqual([]);
  });
});
