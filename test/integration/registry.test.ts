import { createHash } from 'node:crypto';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, ConflictError, NotFoundError } from '../../lib/errors.js';
import {
  deleteAlias,
  keys,
  listModels,
  listVersions,
  readAlias,
  readManifest,
  resolveVersion,
  rollbackAlias,
  setAlias,
  sha256Hex,
  type AliasRecord,
} from '../../lib/registry/index.js';
import { importObject } from '../../lib/imports/run.js';
import { pushModelFiles, pushModelFolder, readModelFolder } from '../../lib/ops/pushFolder.js';
import { localLimits } from '../../lib/runtime/memory.js';
import { listAll, ObjectChangedError, ObjectGoneError, openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { recording, tempFolderStore } from '../helpers/stores.js';
import { writeGraphModel, writeLayersModel } from '../helpers/tinyModels.js';

let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;
let layersDir: string;
let graphDir: string;
let s3Count = 0;

beforeAll(async () => {
  [s3, layersDir, graphDir] = await Promise.all([startS3rver(), writeLayersModel(), writeGraphModel()]);
  proxy = await startConditionalS3Proxy(s3.endpoint);
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

// Each case gets an empty store: a fresh folder, or a fresh prefix in the s3rver bucket reached
// through the proxy that gives s3rver AWS's If-None-Match semantics.
/** `name`'s production alias as if set to `versions` in turn, with no history before them (a race test's next round). */
async function productionFromScratch(store: ObjectStore, name: string, ...versions: number[]): Promise<void> {
  await store.delete(keys.alias(name, 'production'));
  for (const version of versions) await setAlias(store, name, 'production', version);
}

const stores: [string, () => Promise<ObjectStore>][] = [
  ['folder', tempFolderStore],
  ['s3', async () => openStore(`s3://${s3.bucket}/registry-${++s3Count}/`, { ...s3.s3Options, endpoint: proxy.endpoint })],
];

/** Every object of the store but the uploads under imports/, with the sha256 of its bytes. */
async function registryBytes(store: ObjectStore): Promise<string[]> {
  const objects: string[] = [];
  for await (const { key } of listAll(store, ''))
    if (!key.startsWith('imports/'))
      objects.push(
        `${key} ${createHash('sha256')
          .update(await store.get(key))
          .digest('hex')}`,
      );
  return objects.sort();
}

/** The tiny layers model with its one shard at `shard`: the files a push takes, and the zip an import takes. */
async function layersWithShardAt(shard: string): Promise<{ files: Map<string, Uint8Array>; zip: Uint8Array }> {
  const modelJson = JSON.parse(await readFile(path.join(layersDir, 'model.json'), 'utf8'));
  modelJson.weightsManifest[0].paths = [shard];
  const json = strToU8(JSON.stringify(modelJson));
  const weights = new Uint8Array(await readFile(path.join(layersDir, 'weights.bin')));
  return {
    files: new Map([
      ['model.json', json],
      [shard, weights],
    ]),
    zip: zipSync({ 'model.json': json, [shard]: weights }),
  };
}

describe.each(stores)('registry on the %s store', (_kind, makeStore) => {
  it('pushes layers and graph folders as versions 1 and 2 with the sha256 of every file', async () => {
    // Prepare
    const store = await makeStore();
    // Act
    const first = await pushModelFolder(store, layersDir, 'lin');
    const second = await pushModelFolder(store, graphDir, 'lin');
    // Assess
    expect([first.version, first.format, second.version, second.format]).toEqual([1, 'layers', 2, 'graph']);
    expect(await listVersions(store, 'lin')).toEqual([1, 2]);
    for (const manifest of [first, second]) {
      for (const [file, digest] of Object.entries(manifest.files)) {
        expect(sha256Hex(await store.get(keys.file('lin', manifest.version, file)))).toBe(digest);
      }
    }
    expect(second.signature.inputs[0].shape).toEqual([-1, 4]);
    expect(second.signature.outputs[0].shape).toEqual([-1, 3]);
    expect(await readManifest(store, 'lin', 2)).toEqual(second);
    expect(await listModels(store)).toEqual(['lin']);
  });

  it('gives concurrent creates distinct versions', async () => {
    const store = await makeStore();
    const manifests = await Promise.all(Array.from({ length: 6 }, () => pushModelFolder(store, layersDir, 'race')));
    const versions = manifests.map((m) => m.version).sort((a, b) => a - b);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await listVersions(store, 'race')).toEqual(versions);
  });

  it('hides a version without manifest.json and never reuses its number', async () => {
    const store = await makeStore();
    await pushModelFolder(store, layersDir, 'partial');
    // A writer that died after claiming version 2: model.json is there, the commit marker is not.
    await store.put(keys.file('partial', 2, 'model.json'), await readFile(path.join(layersDir, 'model.json')));
    expect(await listVersions(store, 'partial')).toEqual([1]);
    await expect(readManifest(store, 'partial', 2)).rejects.toBeInstanceOf(NotFoundError);
    expect((await pushModelFolder(store, layersDir, 'partial')).version).toBe(3);
  });

  // A shard is written at its path in the version's folder before the commit marker: one named
  // manifest.json took the marker's place (a refused push left a version whose manifest was weight
  // bytes), one under evaluations/ planted a saved evaluation, ../1/weights.bin replaced version 1's
  // shard on S3 (and threw after the number was claimed on a folder, so Lambda retried the import).
  it.each([
    ['manifest.json', /weight path "manifest\.json" is the registry's own/],
    ['evaluations/x.json', /weight path "evaluations\/x\.json" is the registry's own/],
    ['evaluations', /weight path "evaluations" is the registry's own/],
    ['../1/weights.bin', /weight path "\.\.\/1\/weights\.bin" has a "\.\." segment/],
    ['/tmp/abs.bin', /weight path "\/tmp\/abs\.bin" is absolute/],
    ['./manifest.json', /weight path "\.\/manifest\.json" is the registry's own/],
    ['./../1/weights.bin', /weight path "\.\/\.\.\/1\/weights\.bin" has a "\.\." segment/],
  ])('refuses a shard at %s, pushed or imported, with a 400 naming it, and leaves the store byte for byte', async (shard, message) => {
    const store = await makeStore();
    await pushModelFolder(store, layersDir, 'paths');
    const before = await registryBytes(store);
    const { files, zip } = await layersWithShardAt(shard);

    const pushed = pushModelFiles(store, files, 'test', 'paths');
    await expect(pushed).rejects.toBeInstanceOf(BadRequestError);
    await expect(pushed).rejects.toThrow(message);
    await store.put('imports/paths/model.zip', zip);
    const outcome = await importObject(store, store, 'imports/paths/model.zip', localLimits().budget);
    expect(outcome).toMatchObject({ status: 'failed', error: expect.stringMatching(message) });

    expect(await registryBytes(store)).toEqual(before);
    expect((await pushModelFolder(store, layersDir, 'paths')).version).toBe(2);
  });

  it('refuses an imported zip whose shard no longer matches its CRC-32, and leaves the store byte for byte', async () => {
    const store = await makeStore();
    await pushModelFolder(store, layersDir, 'crc');
    const before = await registryBytes(store);
    const { files } = await layersWithShardAt('weights.bin');
    // Stored, not deflated: a changed byte is a changed weight, which no inflating would notice.
    const zip = zipSync(Object.fromEntries(files), { level: 0 });
    const at = Buffer.from(zip).indexOf(Buffer.from(files.get('weights.bin') as Uint8Array));
    expect(at).toBeGreaterThan(0);
    zip[at + 1] ^= 1;
    await store.put('imports/crc/model.zip', zip);
    const outcome = await importObject(store, store, 'imports/crc/model.zip', localLimits().budget);
    expect(outcome).toMatchObject({ status: 'failed', error: expect.stringMatching(/entry "weights\.bin" does not match the CRC-32/) });
    expect(await registryBytes(store)).toEqual(before);
  });

  it('an import whose meta.json is not JSON gets a failed outcome saying so; an outcome file that is not JSON is written over', async () => {
    const store = await makeStore();
    const { zip } = await layersWithShardAt('weights.bin');
    await store.put('imports/meta/model.zip', zip);
    await store.put('imports/meta/model.zip.meta.json', '{oops');
    const refused = await importObject(store, store, 'imports/meta/model.zip', localLimits().budget);
    expect(refused).toMatchObject({ status: 'failed', error: 'imports/meta/model.zip.meta.json is not valid JSON' });
    await store.put('imports/damaged/model.zip', zip);
    await store.put('imports/damaged/model.zip.outcome.json', '{oops');
    const imported = await importObject(store, store, 'imports/damaged/model.zip', localLimits().budget);
    expect(imported).toMatchObject({ status: 'created', model: 'damaged', version: 1 });
  });

  it("takes a shard at ./name, as TF.js's browser download writes it, and reads it back; the same file named twice is refused", async () => {
    // model.save('downloads://m') names its shard ./m.weights.bin in weightsManifest.
    const store = await makeStore();
    const { files } = await layersWithShardAt('./m.weights.bin');
    const { version } = await pushModelFiles(store, files, 'test', 'dotted');
    expect(version).toBe(1);
    expect(await listVersions(store, 'dotted')).toEqual([1]);
    expect(await store.get(keys.file('dotted', 1, './m.weights.bin'))).toEqual(files.get('./m.weights.bin'));
    const { files: twice } = await layersWithShardAt('./weights.bin');
    const json = JSON.parse(new TextDecoder().decode(twice.get('model.json')));
    json.weightsManifest[0].paths = ['./weights.bin', 'weights.bin'];
    twice.set('model.json', new TextEncoder().encode(JSON.stringify(json)));
    await expect(pushModelFiles(store, twice, 'test', 'dotted')).rejects.toThrow(/weight path "weights\.bin" is named twice/);
  });

  it('promotes and rolls back aliases, and resolves production before latest', async () => {
    const store = await makeStore();
    for (let i = 0; i < 3; i += 1) await pushModelFolder(store, layersDir, 'alias');
    expect((await resolveVersion(store, { name: 'alias' })).version).toBe(3); // no production yet: latest
    await setAlias(store, 'alias', 'production', 1);
    await setAlias(store, 'alias', 'production', 2);
    expect((await resolveVersion(store, { name: 'alias' })).version).toBe(2);
    expect((await resolveVersion(store, { name: 'alias', alias: 'latest' })).version).toBe(3);
    const rolled = await rollbackAlias(store, 'alias', 'production');
    expect(rolled.version).toBe(1);
    // The id each write stores beside the record (to tell its own write from another) is never shown.
    expect(Object.keys(rolled)).toEqual(['version', 'previous', 'updatedAt']);
    expect(Object.keys((await readAlias(store, 'alias', 'production'))!)).toEqual(['version', 'previous', 'updatedAt']);
    expect((await resolveVersion(store, { name: 'alias', alias: 'production' })).version).toBe(1);
    await expect(rollbackAlias(store, 'alias', 'production')).rejects.toBeInstanceOf(ConflictError);
    await expect(setAlias(store, 'alias', 'production', 9)).rejects.toBeInstanceOf(NotFoundError);
    await expect(setAlias(store, 'alias', 'latest', 1)).rejects.toBeInstanceOf(BadRequestError);
    await expect(resolveVersion(store, { name: 'alias', alias: 'staging' })).rejects.toThrow(/no alias staging/);
    await expect(resolveVersion(store, { name: 'nope' })).rejects.toThrow(/no model named nope/);
    // Setting an alias of a model that does not exist says so, not that it lacks the version.
    await expect(setAlias(store, 'nope', 'production', 1)).rejects.toThrow(/^no model named nope$/);
  });

  it('concurrent promotions each end in the stored history or answer 409, and each answer shows a history that was stored', async () => {
    const store = await makeStore();
    for (let i = 0; i < 6; i += 1) await pushModelFolder(store, layersDir, 'race');
    for (let round = 0; round < 3; round += 1) {
      await productionFromScratch(store, 'race', 1);
      const targets = [2, 3, 4, 5, 6];
      const results = await Promise.allSettled(targets.map((v) => setAlias(store, 'race', 'production', v)));
      const final = (await readAlias(store, 'race', 'production'))!;
      const chain = (r: AliasRecord) => [r.version, ...r.previous];
      const answered = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
      expect(answered.length).toBeGreaterThan(0);
      // Newest first: the final record lists every promotion that answered 200, and the one before.
      expect(chain(final).sort()).toEqual([1, ...answered.map((a) => a.version)].sort());
      // What each answer said was stored is the stored history as it was then: the final one's tail.
      for (const answer of answered) expect(chain(final).slice(-chain(answer).length)).toEqual(chain(answer));
    }
  });

  it('concurrent rollbacks each move the alias one step back or answer 409: as many steps as answers of 200', async () => {
    // Rollbacks from one state within a millisecond compute the same record, updatedAt included:
    // the one whose write lost took the winner's record for its own and answered 200 without a step.
    const store = await makeStore();
    for (let i = 0; i < 5; i += 1) await pushModelFolder(store, layersDir, 'back');
    for (let round = 0; round < 8; round += 1) {
      await productionFromScratch(store, 'back', 1, 2, 3, 4, 5);
      const results = await Promise.allSettled([1, 2, 3].map(() => rollbackAlias(store, 'back', 'production')));
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
      const answered = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const steps = answered.length;
      expect(steps).toBeGreaterThan(0);
      expect(await readAlias(store, 'back', 'production')).toMatchObject({ version: 5 - steps, previous: [4, 3, 2, 1].slice(steps) });
      // Each answer is a step of its own: 4, then 3, then 2, whichever request took which.
      expect(answered.map((a) => a.version).sort((a, b) => b - a)).toEqual([4, 3, 2].slice(0, steps));
    }
  });

  it('a rollback whose write landed but whose answer was lost (the retry refused: 412) answers 200 for its one step', async () => {
    const inner = await makeStore();
    for (let i = 0; i < 3; i += 1) await pushModelFolder(inner, layersDir, 'lost');
    await productionFromScratch(inner, 'lost', 1, 2, 3);
    // As S3's client retrying a write whose answer it lost: the write is stored, the retry refused.
    let lose = true;
    const store: ObjectStore = {
      uri: inner.uri,
      get: (...args) => inner.get(...args),
      getStream: (...args) => inner.getStream(...args),
      head: (...args) => inner.head(...args),
      put: async (key, body, options) => {
        await inner.put(key, body, options);
        if (lose && options?.ifMatch !== undefined && key === keys.alias('lost', 'production')) {
          lose = false;
          throw new ObjectChangedError(key, inner.uri, undefined, options.ifMatch);
        }
      },
      putStream: (...args) => inner.putStream(...args),
      delete: (...args) => inner.delete(...args),
      listPage: (...args) => inner.listPage(...args),
    };
    expect(await rollbackAlias(store, 'lost', 'production')).toMatchObject({ version: 2, previous: [1] });
    expect(lose).toBe(false);
    expect(await readAlias(inner, 'lost', 'production')).toMatchObject({ version: 2, previous: [1] });
  });

  it('concurrent PUTs of one version move the alias once, and each answers 200 with the record stored', async () => {
    const store = await makeStore();
    for (let i = 0; i < 3; i += 1) await pushModelFolder(store, layersDir, 'same');
    for (let round = 0; round < 4; round += 1) {
      await productionFromScratch(store, 'same', 1, 2);
      const answers = await Promise.all([1, 2, 3].map(() => setAlias(store, 'same', 'production', 3)));
      const final = (await readAlias(store, 'same', 'production'))!;
      expect(final).toMatchObject({ version: 3, previous: [2, 1] });
      for (const answer of answers) expect(answer).toEqual(final);
    }
  });

  it('a rollback racing a promotion is never silently undone: the stored record is one of the two orders', async () => {
    const store = await makeStore();
    for (let i = 0; i < 3; i += 1) await pushModelFolder(store, layersDir, 'undo');
    for (let round = 0; round < 5; round += 1) {
      await productionFromScratch(store, 'undo', 1, 2);
      const [rolled, promoted] = await Promise.all([rollbackAlias(store, 'undo', 'production'), setAlias(store, 'undo', 'production', 3)]);
      const final = await readAlias(store, 'undo', 'production');
      if (rolled.version === 1) {
        // Rolled back to 1, then promoted to 3.
        expect(promoted).toMatchObject({ version: 3, previous: [1] });
        expect(final).toMatchObject({ version: 3, previous: [1] });
      } else {
        // Promoted to 3, then rolled back to 2.
        expect(promoted).toMatchObject({ version: 3, previous: [2, 1] });
        expect(rolled).toMatchObject({ version: 2, previous: [1] });
        expect(final).toMatchObject({ version: 2, previous: [1] });
      }
    }
  });

  /** `inner`, its conditional deletes going through `onDelete` (which makes the real call, or not). */
  const deletesThrough = (inner: ObjectStore, onDelete: ObjectStore['delete']): ObjectStore => ({
    uri: inner.uri,
    get: (...args) => inner.get(...args),
    getStream: (...args) => inner.getStream(...args),
    head: (...args) => inner.head(...args),
    put: (...args) => inner.put(...args),
    putStream: (...args) => inner.putStream(...args),
    listPage: (...args) => inner.listPage(...args),
    delete: (key, options) => (options?.ifMatch === undefined ? inner.delete(key) : onDelete(key, options)),
  });

  it('a delete racing a promotion never removes the promotion unseen: it deletes what it then reads, or with ?from= refuses', async () => {
    const inner = await makeStore();
    for (let i = 0; i < 3; i += 1) await pushModelFolder(inner, layersDir, 'gone');
    const stagingAt = async (on: ObjectStore, ...versions: number[]) => {
      await on.delete(keys.alias('gone', 'staging'));
      for (const version of versions) await setAlias(on, 'gone', 'staging', version);
    };
    // Another writer promotes between the delete's read and its write: the conditional delete must see it.
    let promoteFirst = true;
    const store = deletesThrough(inner, async (key, options) => {
      if (promoteFirst) {
        promoteFirst = false;
        await setAlias(inner, 'gone', 'staging', 3);
      }
      await inner.delete(key, options);
    });
    await stagingAt(inner, 1, 2);
    // Deleted as read again: the record answered is the promotion's, so the client sees what it removed.
    expect(await deleteAlias(store, 'gone', 'staging')).toMatchObject({ version: 3, previous: [2, 1] });
    expect(await readAlias(inner, 'gone', 'staging')).toBeUndefined();
    // With ?from=2, a promotion to 3 meanwhile makes it a 409, and the alias stays at 3.
    await stagingAt(inner, 1, 2);
    promoteFirst = true;
    await expect(deleteAlias(store, 'gone', 'staging', { from: 2 })).rejects.toThrow('alias staging of gone points at version 3, not 2: nothing was deleted');
    expect(await readAlias(inner, 'gone', 'staging')).toMatchObject({ version: 3, previous: [2, 1] });
    // A conditional delete of what the key no longer holds is refused by the store itself.
    const { etag } = (await inner.head(keys.alias('gone', 'staging')))!;
    await setAlias(inner, 'gone', 'staging', 1);
    await expect(inner.delete(keys.alias('gone', 'staging'), { ifMatch: etag })).rejects.toBeInstanceOf(ObjectChangedError);
    await expect(inner.delete(keys.alias('gone', 'nothing'), { ifMatch: etag })).rejects.toBeInstanceOf(ObjectChangedError);
    expect(await readAlias(inner, 'gone', 'staging')).toMatchObject({ version: 1 });
  });

  it('a delete whose write landed but whose answer was lost (the retry finds nothing: 404) answers 200 with the record removed, and removes nothing set since', async () => {
    const inner = await makeStore();
    for (let i = 0; i < 2; i += 1) await pushModelFolder(inner, layersDir, 'lostdel');
    await setAlias(inner, 'lostdel', 'staging', 1);
    const store = deletesThrough(inner, async (key, options) => {
      await inner.delete(key, options);
      // Another client sets the alias anew before this delete's retry, which finds the version it named gone.
      await setAlias(inner, 'lostdel', 'staging', 2);
      throw new ObjectGoneError(key, inner.uri, undefined, options?.ifMatch ?? '');
    });
    expect(await deleteAlias(store, 'lostdel', 'staging')).toMatchObject({ version: 1, previous: [] });
    expect(await readAlias(inner, 'lostdel', 'staging')).toMatchObject({ version: 2, previous: [] });
    // Each store says so itself: a conditional delete of a key with no object is "gone", not "changed".
    const { etag } = (await inner.head(keys.alias('lostdel', 'staging')))!;
    await inner.delete(keys.alias('lostdel', 'staging'));
    await expect(inner.delete(keys.alias('lostdel', 'staging'), { ifMatch: etag })).rejects.toBeInstanceOf(ObjectGoneError);
  });

  it('a delete refused because the alias moved, which another client then removes, is a 404: it removed nothing', async () => {
    const inner = await makeStore();
    for (let i = 0; i < 2; i += 1) await pushModelFolder(inner, layersDir, 'thirddel');
    await setAlias(inner, 'thirddel', 'staging', 1);
    let first = true;
    const store = deletesThrough(inner, async (key, options) => {
      if (first) {
        first = false;
        await setAlias(inner, 'thirddel', 'staging', 2); // moved after this delete read it: its condition fails
        await inner.delete(key, options).catch(async (error: unknown) => {
          await inner.delete(key); // and another client removes the alias
          throw error;
        });
      } else await inner.delete(key, options);
    });
    await expect(deleteAlias(store, 'thirddel', 'staging', { from: 1 })).rejects.toThrow('model thirddel has no alias staging');
    expect(first).toBe(false);
  });

  it('production is removed only with ?from= (requests naming no version then get the highest); a numbered alias stored before the rule is removed as any other', async () => {
    const store = await makeStore();
    for (let i = 0; i < 2; i += 1) await pushModelFolder(store, layersDir, 'prod');
    await setAlias(store, 'prod', 'production', 1);
    await expect(deleteAlias(store, 'prod', 'production')).rejects.toThrow(/^alias production is what requests naming no version of prod get: .*\?from=N/);
    // What does not exist is said first: a model or an alias that is not there is a 404, not the 400.
    await expect(deleteAlias(store, 'nomodel', 'production')).rejects.toThrow(/^no model named nomodel$/);
    await expect(deleteAlias(store, 'prod', 'staging')).rejects.toThrow('model prod has no alias staging');
    expect((await resolveVersion(store, { name: 'prod' })).version).toBe(1);
    expect(await deleteAlias(store, 'prod', 'production', { from: 1 })).toMatchObject({ version: 1 });
    expect((await resolveVersion(store, { name: 'prod' })).version).toBe(2);
    await store.put(keys.alias('prod', '7'), JSON.stringify({ version: 2, previous: [], updatedAt: new Date().toISOString() }));
    expect(await deleteAlias(store, 'prod', '7')).toMatchObject({ version: 2 });
    expect(await readAlias(store, 'prod', '7')).toBeUndefined();
  });
});

describe('registry bad input', () => {
  it.each(['../x', 'a/b', 'Upper', '', '.hidden', 'a..b', 'x'.repeat(65), 'sp ace'])('refuses model name %j before touching the store', async (name) => {
    const store = recording(await tempFolderStore());
    await expect(pushModelFolder(store, layersDir, name)).rejects.toBeInstanceOf(BadRequestError);
    await expect(listVersions(store, name)).rejects.toBeInstanceOf(BadRequestError);
    await expect(setAlias(store, 'ok', name, 1)).rejects.toBeInstanceOf(BadRequestError);
    expect(store.calls).toEqual([]);
  });

  it('refuses a folder without model.json and writes nothing', async () => {
    const store = recording(await tempFolderStore());
    const empty = await writeLayersModel();
    await rm(path.join(empty, 'model.json'));
    await expect(pushModelFolder(store, empty, 'm')).rejects.toThrow(/has no model.json/);
    expect(store.calls.filter((c) => c.method === 'put')).toEqual([]);
  });

  it.each([
    ['a truncated shard', async (dir: string) => truncate(path.join(dir, 'weights.bin'), 8), /hold 8 bytes but weightsManifest\[0\] declares 60/],
    ['a missing shard', async (dir: string) => rm(path.join(dir, 'weights.bin')), /weight files missing.*weights.bin/],
    ['a model.json that is not JSON', async (dir: string) => writeFile(path.join(dir, 'model.json'), '{oops'), /not valid JSON/],
  ])('refuses %s and writes nothing', async (_case, damage, message) => {
    const store = await tempFolderStore();
    const dir = await writeLayersModel();
    await damage(dir);
    await expect(pushModelFolder(store, dir, 'm')).rejects.toThrow(message);
    const written = [];
    for await (const object of listAll(store, '')) written.push(object.key);
    expect(written).toEqual([]);
  });

  it('refuses a model whose second shard of two is missing, naming that shard alone', async () => {
    const store = await tempFolderStore();
    const dir = await writeLayersModel();
    // The one shard cut in two, as the converter shards a larger model: part1.bin is there, part2.bin is not.
    const weights = await readFile(path.join(dir, 'weights.bin'));
    await writeFile(path.join(dir, 'part1.bin'), weights.subarray(0, 32));
    const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    modelJson.weightsManifest[0].paths = ['part1.bin', 'part2.bin'];
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
    await expect(pushModelFolder(store, dir, 'm')).rejects.toThrow(/^weight files missing for weightsManifest\[0\]: part2\.bin$/);
    const written = [];
    for await (const object of listAll(store, '')) written.push(object.key);
    expect(written).toEqual([]);
  });

  // Fine-tune refuses such weights, and every answer through them would be a 422.
  it.each([
    [Number.NaN, 'NaN'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ])('refuses a layers model whose weights hold %s, naming the weight, and writes nothing', async (value, shown) => {
    const store = await tempFolderStore();
    const dir = await writeLayersModel();
    const weights = new Float32Array(new Uint8Array(await readFile(path.join(dir, 'weights.bin'))).buffer);
    weights[5] = value;
    await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(weights.buffer));
    await expect(pushModelFolder(store, dir, 'm')).rejects.toThrow(
      new BadRequestError(`weight probs/kernel holds ${shown} (element 5): a layers model's weights must be finite, or every answer that uses them is NaN`),
    );
    const written = [];
    for await (const object of listAll(store, '')) written.push(object.key);
    expect(written).toEqual([]);
  });

  it.each([
    [1e39, 0, false],
    [1e37, 0, false],
    [0.01, -1, true],
  ])('a uint8-quantized layers model with scale %s and min %s: pushed only when it dequantizes within float32', async (scale, min, pushed) => {
    const store = await tempFolderStore();
    const dir = await writeLayersModel();
    const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    const [group] = modelJson.weightsManifest;
    for (const spec of group.weights) spec.quantization = { dtype: 'uint8', scale, min };
    const count = group.weights.reduce((n: number, spec: { shape: number[] }) => n + spec.shape.reduce((a, b) => a * b, 1), 0);
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
    await writeFile(path.join(dir, group.paths[0]), new Uint8Array(count).fill(1));
    const push = pushModelFolder(store, dir, 'q');
    if (pushed) expect((await push).version).toBe(1);
    else await expect(push).rejects.toThrow(/dequantizes uint8 with scale .* to values beyond float32/);
  });

  it("takes a graph model's infinite constant (a threshold of -inf is ordinary there)", async () => {
    const store = await tempFolderStore();
    const dir = await writeGraphModel();
    const shard = path.join(dir, 'group1-shard1of1.bin');
    const weights = new Float32Array(new Uint8Array(await readFile(shard)).buffer);
    weights[12] = Number.NEGATIVE_INFINITY;
    await writeFile(shard, new Uint8Array(weights.buffer));
    expect((await pushModelFolder(store, dir, 'g')).version).toBe(1);
  });

  it('makes no key that leaves a version folder, whoever asks (the 400s above come first)', () => {
    expect(() => keys.file('m', 2, '../1/weights.bin')).toThrow(/leaves the version's folder/);
  });

  it('reads exactly the files a weights manifest names', async () => {
    await writeFile(path.join(layersDir, 'notes.txt'), 'not part of the model');
    expect([...(await readModelFolder(layersDir)).keys()]).toEqual(['model.json', 'weights.bin']);
  });
});
