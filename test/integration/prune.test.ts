/**
 * Staged versions (a number claimed, files written, no manifest) removed by `modelctl prune`
 * (cli/commands/prune.ts over lib/registry/staged.ts), on a folder and on S3 (s3rver): the files
 * of a push cut off at its commit go but its model.json, which keeps the number claimed; a version
 * a claim names stays for its commit, a recent one for a writer still running, and committed
 * versions are left byte for byte, even by a second prune that listed what the first removed.
 */
import { createHash, randomUUID } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prune } from '../../cli/commands/prune.js';
import { checkVersionIntact } from '../../lib/registry/intact.js';
import { keys, listVersions, readManifest, removeStaged, stagedVersions } from '../../lib/registry/index.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { listAll, openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeLayersModel } from '../helpers/tinyModels.js';

let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;
let layersDir: string;

beforeAll(async () => {
  [s3, layersDir] = await Promise.all([startS3rver(), writeLayersModel()]);
  proxy = await startConditionalS3Proxy(s3.endpoint);
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

const stores: [string, () => Promise<ObjectStore>][] = [
  ['folder', tempFolderStore],
  ['s3', async () => openStore(`s3://${s3.bucket}/prune-${randomUUID()}/`, { ...s3.s3Options, endpoint: proxy.endpoint })],
];

/** The store, its commit markers refused: a push through it is cut off after writing every file but the manifest. */
function cutOffAtCommit(store: ObjectStore): ObjectStore {
  return Object.assign(Object.create(store), {
    put: (key: string, ...rest: Parameters<ObjectStore['put']> extends [string, ...infer R] ? R : never) =>
      key.endsWith('/manifest.json') ? Promise.reject(new Error('connection reset')) : store.put(key, ...rest),
  });
}

async function bytesUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of listAll(store, prefix))
    out.push(
      `${key} ${createHash('sha256')
        .update(await store.get(key))
        .digest('hex')}`,
    );
  return out.sort();
}

describe.each(stores)('modelctl prune on the %s store', (kind, makeStore) => {
  it('removes a cut-off push, keeps a version a claim names and committed versions byte for byte; a recent one only once old enough', async () => {
    const store = await makeStore();
    await pushModelFolder(store, layersDir, 'pruned'); // version 1, committed
    await expect(pushModelFolder(cutOffAtCommit(store), layersDir, 'pruned')).rejects.toThrow('connection reset'); // 2: staged
    await expect(pushModelFolder(cutOffAtCommit(store), layersDir, 'pruned')).rejects.toThrow('connection reset'); // 3: staged, then claimed
    // A fine-tune attempt whose claim landed and which died before its commit: the job's next delivery commits 3.
    const claim = keys.fineTuneClaim('pruned', randomUUID());
    await store.put(claim, JSON.stringify({ ...(await readManifest(store, 'pruned', 1)), version: 3 }));
    const committed = await bytesUnder(store, keys.versionPrefix('pruned', 1));

    const staged = await stagedVersions(store, 'pruned');
    expect(staged.map((s) => [s.version, s.files.sort(), s.claimedBy])).toEqual([
      [2, ['model.json', 'weights.bin'], undefined],
      [3, ['model.json', 'weights.bin'], claim],
    ]);
    // Written just now (the store's own clock): a writer may still be running, so an hour's age keeps it.
    expect(Math.abs(Date.now() - staged[0].lastWrite.getTime())).toBeLessThan(60_000);
    const recent = JSON.parse(await prune(store, 'pruned', { olderThan: 3_600_000, dryRun: false, json: true }));
    expect(recent.map((r: { action: string }) => r.action)).toEqual([expect.stringMatching(/^kept: written too recently/), expect.stringMatching(/^kept: claimed by /)]);
    expect((await stagedVersions(store, 'pruned')).length).toBe(2);

    if (kind === 'folder') {
      // A day old on disk, the age that counts is the newest file's: one file rewritten just now keeps the version.
      const root = fileURLToPath(store.uri);
      const dayAgo = new Date(Date.now() - 86_400_000);
      for (const version of [2, 3]) for (const file of ['model.json', 'weights.bin']) await utimes(path.join(root, keys.file('pruned', version, file)), dayAgo, dayAgo);
    }
    const olderThan = kind === 'folder' ? 3_600_000 : 0; // s3rver's times cannot be set back
    const dry = JSON.parse(await prune(store, undefined, { olderThan, dryRun: true, json: true }));
    expect(dry).toEqual([
      expect.objectContaining({ model: 'pruned', version: 2, files: 1, action: 'would remove' }), // weights.bin: model.json stays
      expect.objectContaining({ model: 'pruned', version: 3, action: `kept: claimed by ${claim} (whoever runs its job or import again commits it)` }),
    ]);
    expect((await stagedVersions(store, 'pruned')).length).toBe(2);

    // A second prune that listed the same versions before the first removed them (a cron run and a hand run).
    const listedBySecond = await stagedVersions(store, 'pruned');
    const text = await prune(store, undefined, { olderThan, dryRun: false, json: false });
    expect(text).toMatch(/pruned +2 +1 .* removed/);
    expect(text).toMatch(/\nfreed \d+\.\d MB \(each version's model\.json stays, holding its number\)$/);
    // Its model.json stays: the number stays claimed, so no new writer's files land where a prune listed files.
    expect((await bytesUnder(store, keys.versionPrefix('pruned', 2))).map((line) => line.split(' ')[0])).toEqual(['pruned/versions/2/model.json']);
    expect(await bytesUnder(store, keys.versionPrefix('pruned', 1))).toEqual(committed);
    await checkVersionIntact(store, 'pruned', 1, await readManifest(store, 'pruned', 1), 'production');
    expect(await listVersions(store, 'pruned')).toEqual([1]);
    const pushed = await pushModelFolder(store, layersDir, 'pruned');
    expect(pushed.version).toBe(4);
    expect(await removeStaged(store, listedBySecond[0])).toBe(true);
    await checkVersionIntact(store, 'pruned', 4, pushed, 'production');
    // Nothing left to remove but the claimed one.
    expect(await prune(store, 'pruned', { olderThan, dryRun: false, json: false })).not.toMatch(/removed/);
    expect(JSON.parse(await prune(store, 'pruned', { olderThan, dryRun: false, json: true })).map((r: { version: number }) => r.version)).toEqual([3]);
  });
});

describe('modelctl prune, what it refuses', () => {
  it('names a model that is not there; says so when nothing is staged', async () => {
    const store = await tempFolderStore();
    await expect(prune(store, 'nomodel', { olderThan: 0, dryRun: false, json: false })).rejects.toThrow(/^no model named nomodel \(modelctl list/);
    await pushModelFolder(store, layersDir, 'clean');
    expect(await prune(store, 'clean', { olderThan: 0, dryRun: false, json: false })).toBe('no staged versions of clean: every version number claimed is committed');
    expect(await prune(store, undefined, { olderThan: 0, dryRun: false, json: true })).toBe('[]');
  });

  it('removes nothing of a version committed after it was listed, nor of any staged version while a claim of the model cannot be read', async () => {
    const store = await tempFolderStore();
    await pushModelFolder(store, layersDir, 'late');
    await expect(pushModelFolder(cutOffAtCommit(store), layersDir, 'late')).rejects.toThrow('connection reset');
    const [listed] = await stagedVersions(store, 'late');
    await store.put(keys.manifest('late', 2), JSON.stringify({ ...(await readManifest(store, 'late', 1)), version: 2 })); // its writer's commit lands
    expect(await removeStaged(store, listed)).toBe(false);
    expect(await listVersions(store, 'late')).toEqual([1, 2]);
    await checkVersionIntact(store, 'late', 2, await readManifest(store, 'late', 2), 'production');

    await expect(pushModelFolder(cutOffAtCommit(store), layersDir, 'late')).rejects.toThrow('connection reset');
    await store.put('late/imports/0123.json', 'cut sh');
    const [kept] = JSON.parse(await prune(store, 'late', { olderThan: 0, dryRun: false, json: true }));
    expect(kept).toMatchObject({
      version: 3,
      action: 'kept: claimed by late/imports/0123.json (unreadable: it may name any version) (whoever runs its job or import again commits it)',
    });
    await expect(removeStaged(store, (await stagedVersions(store, 'late'))[0])).rejects.toThrow(/is claimed by/);
    expect((await stagedVersions(store, 'late')).map((v) => v.files.length)).toEqual([2]);
    // The store's clock, not this machine's, tells a version's age: the probe that reads it is gone after.
    expect(await bytesUnder(store, '_prune/')).toEqual([]);
  });
});

it("a clock probe an earlier prune could not delete goes at the next prune, once 10 minutes old; a younger one (another prune's) stays", async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, layersDir, 'probed');
  const root = fileURLToPath(store.uri);
  await store.put('_prune/clock-left-behind', '');
  await store.put('_prune/clock-running', '');
  const old = new Date(Date.now() - 11 * 60_000);
  await utimes(path.join(root, '_prune/clock-left-behind'), old, old);
  await prune(store, 'probed', { olderThan: 3_600_000, dryRun: false, json: true });
  const left: string[] = [];
  for await (const object of listAll(store, '_prune/')) left.push(object.key);
  expect(left).toEqual(['_prune/clock-running']);
});
