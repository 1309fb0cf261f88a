/**
 * A store record that is not what it should be (a manifest or an alias file edited by hand, a
 * truncated copy) is damage, not an outage: the routes that read it answer 500 saying what is
 * damaged and what to do, without Retry-After (a retry reads the same bytes); one damaged alias
 * does not hide the model list; setting the alias again writes over it. They answered 503 "retry
 * later" (a SyntaxError taken for the store failing), the list failed for every model, and the PUT
 * that would repair the alias answered 500 "internal error".
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, callHttpApi, type Handler, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { DAMAGED_VERSION } from '../../lib/errors.js';
import { DAMAGED_MANIFEST, readAlias, readManifest } from '../../lib/registry/index.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';

const FLOWER = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
let store: FolderStore;
let app: App;

beforeAll(async () => {
  store = await tempFolderStore();
  const root = fileURLToPath(store.uri);
  for (const name of ['iris', 'junk-manifest', 'empty-manifest', 'junk-alias', 'shapeless-alias']) await cp('models/iris', path.join(root, name), { recursive: true });
  await store.put('junk-manifest/versions/1/manifest.json', 'hi');
  await store.put('empty-manifest/versions/1/manifest.json', '{}');
  await store.put('junk-alias/aliases/production.json', 'junk');
  await store.put('shapeless-alias/aliases/production.json', '{"version": "one"}');
  app = serving(store.uri);
});

const predict = (route: string) => callHttpApi(app.predict as Handler, 'POST', route, JSON.stringify({ instances: [FLOWER] }));

describe('a damaged record in the store', () => {
  it.each(['junk-manifest', 'empty-manifest'])('a manifest (%s) answers 500 saying the version is damaged, without Retry-After or internals', async (name) => {
    const answer = await predict(`/v1/models/${name}/versions/1:predict`);
    expect(answer.statusCode).toBe(500);
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(answer.body.error).toBe('the model version is damaged in the store (its manifest.json is not a valid manifest): push it again, or move the alias to another version');
  });

  it.each(['junk-alias', 'shapeless-alias'])('an alias file (%s) answers 500 naming the alias and how to set it again', async (name) => {
    const answer = await predict(`/v1/models/${name}/labels/production:predict`);
    expect(answer.statusCode).toBe(500);
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(answer.body.error).toBe(
      `alias production of model ${name} is damaged in the store (not a valid alias record): set it again (PUT /v2/models/${name}/aliases/production, or modelctl promote)`,
    );
  });

  it('TF Serving status reports a version whose manifest is damaged as TF Serving reports a failed load: 200, END, DATA_LOSS and what to do', async () => {
    for (const route of ['/v1/models/junk-manifest', '/v1/models/junk-manifest/versions/1']) {
      const answer = await call(app.metadata, 'GET', route);
      expect([answer.statusCode, answer.body]).toEqual([
        200,
        { model_version_status: [{ version: '1', state: 'END', status: { error_code: 'DATA_LOSS', error_message: DAMAGED_MANIFEST } }] },
      ]);
    }
    // A damaged alias names no version to report: the status call fails, naming the alias.
    const alias = await call(app.metadata, 'GET', '/v1/models/junk-alias/labels/production');
    expect(alias.statusCode).toBe(500);
    expect(alias.body.error).toMatch(/^alias production of model junk-alias is damaged in the store/);
  });

  it('TF Serving status lists a version whose files are damaged as END once this function tried it, beside the served one AVAILABLE (it was AVAILABLE again)', async () => {
    const root = fileURLToPath(store.uri);
    for (const version of [1, 2]) {
      const dir = path.join(root, 'two/versions', String(version));
      await cp('models/iris/versions/1', dir, { recursive: true });
      const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
      await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...manifest, name: 'two', version }));
    }
    const weights = path.join(root, 'two/versions/1/weights.bin');
    const bytes = await readFile(weights);
    bytes[0] ^= 0xff;
    await writeFile(weights, bytes);
    const damaged = { version: '1', state: 'END', status: { error_code: 'DATA_LOSS', error_message: DAMAGED_VERSION } };
    expect((await call(app.metadata, 'GET', '/v1/models/two/versions/1')).body).toEqual({ model_version_status: [damaged] });
    const listed = await call(app.metadata, 'GET', '/v1/models/two');
    expect([listed.statusCode, listed.body]).toEqual([
      200,
      { model_version_status: [damaged, { version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] },
    ]);
  });

  it("is thrown as an IntegrityError by name, which the batch state machine's Catch matches (serverless.yml): a failed manifest, not a failed execution", async () => {
    for (const name of ['junk-alias', 'shapeless-alias']) await expect(readAlias(store, name, 'production')).rejects.toMatchObject({ name: 'IntegrityError' });
    await expect(readManifest(store, 'junk-manifest', 1)).rejects.toMatchObject({ name: 'IntegrityError' });
  });

  it('a rollback of a damaged alias says it is damaged, not that there is no such alias', async () => {
    const answer = await callHttpApi(app.fineTune as Handler, 'POST', '/v2/models/shapeless-alias/aliases/production/rollback');
    expect(answer.statusCode).toBe(500);
    expect(answer.body.error).toMatch(/^alias production of model shapeless-alias is damaged in the store/);
  });

  it('is not served around by a warm function: an alias damaged after its version was loaded answers 500, as a fresh function does', async () => {
    const root = fileURLToPath(store.uri);
    await cp('models/iris', path.join(root, 'warm'), { recursive: true });
    const warm = serving(store.uri, { MODEL_ALIAS_TTL_SECONDS: '0' });
    const route = '/v1/models/warm/labels/production:predict';
    expect((await callHttpApi(warm.predict as Handler, 'POST', route, JSON.stringify({ instances: [FLOWER] }))).statusCode).toBe(200);
    await store.put('warm/aliases/production.json', 'junk');
    const answer = await callHttpApi(warm.predict as Handler, 'POST', route, JSON.stringify({ instances: [FLOWER] }));
    expect(answer.statusCode).toBe(500);
    expect(answer.body.error).toMatch(/^alias production of model warm is damaged in the store/);
  });

  it('does not hide the model list: every model is listed, a damaged alias left out', async () => {
    const list = await call(app.metadata, 'GET', '/v2/models');
    expect(list.statusCode, JSON.stringify(list.body)).toBe(200);
    const byName = Object.fromEntries(list.body.models.map((m: { name: string; aliases: Record<string, number> }) => [m.name, m.aliases]));
    expect(Object.keys(byName)).toEqual(['empty-manifest', 'iris', 'junk-alias', 'junk-manifest', 'shapeless-alias', 'two', 'warm']);
    expect(byName['junk-alias']).toEqual({});
    expect(byName.iris).toEqual({ production: 1 });
  });

  it('an alias is repaired by setting it again, and then serves', async () => {
    const set = await call(app.fineTune, 'PUT', '/v2/models/junk-alias/aliases/production', { version: 1 });
    expect(set.statusCode, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toMatchObject({ model: 'junk-alias', alias: 'production', version: 1, previous: [] });
    const answer = await predict('/v1/models/junk-alias/labels/production:predict');
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  });

  it('an alias is not moved to a version whose files are damaged: 409 naming the file, the alias as it was', async () => {
    await cp('models/iris', path.join(fileURLToPath(store.uri), 'bad-weights'), { recursive: true });
    const weights = await readFile('models/iris/versions/1/weights.bin');
    await store.put('bad-weights/versions/1/weights.bin', weights.subarray(0, weights.length - 4));
    const refused = await call(app.fineTune, 'PUT', '/v2/models/bad-weights/aliases/staging', { version: 1 });
    expect(refused).toMatchObject({
      statusCode: 409,
      body: {
        error:
          'version 1 of bad-weights is damaged (weights.bin does not match its sha256 in the manifest): alias staging was not moved; push the model again as a new version, or point the alias at another',
      },
    });
    expect(await readAlias(store, 'bad-weights', 'staging')).toBeUndefined();
    await store.delete('bad-weights/versions/1/weights.bin');
    expect((await call(app.fineTune, 'PUT', '/v2/models/bad-weights/aliases/staging', { version: 1 })).body.error).toMatch(/\(weights\.bin is missing from the store\)/);
  });

  it('nor rolled back onto one: 409 naming the file, the alias and its history as they were', async () => {
    await pushModelFolder(store, 'models/iris/versions/1', 'rolled');
    await pushModelFolder(store, 'models/iris/versions/1', 'rolled');
    for (const version of [1, 2]) expect((await call(app.fineTune, 'PUT', '/v2/models/rolled/aliases/rb', { version })).statusCode).toBe(200);
    const before = await readAlias(store, 'rolled', 'rb');
    const weights = await readFile('models/iris/versions/1/weights.bin');
    await store.put('rolled/versions/1/weights.bin', weights.subarray(4));
    const refused = await call(app.fineTune, 'POST', '/v2/models/rolled/aliases/rb/rollback');
    expect(refused).toMatchObject({
      statusCode: 409,
      body: { error: expect.stringMatching(/^version 1 of rolled is damaged \(weights\.bin does not match its sha256 in the manifest\): alias rb was not moved/) },
    });
    expect(await readAlias(store, 'rolled', 'rb')).toEqual(before);
    // Mended (the same bytes back), the same rollback goes through.
    await store.put('rolled/versions/1/weights.bin', weights);
    expect(await call(app.fineTune, 'POST', '/v2/models/rolled/aliases/rb/rollback')).toMatchObject({ statusCode: 200, body: { version: 1 } });
  });
});
