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
import { FolderStore } from '../../lib/store/folder.js';
import type { ObjectStore } from '../../lib/store/index.js';
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
