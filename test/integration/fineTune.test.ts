import { cp, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob, updateJob, type Job } from '../../lib/jobs/index.js';
import { evaluateJob } from '../../lib/ops/evaluate/executor.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { listVersions, readAlias } from '../../lib/registry/index.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { writeGraphModel } from '../helpers/tinyModels.js';
import { call, callHttpApi, type Handler, serving, waitForJob as waitForAppJob, type App } from '../helpers/serving.js';
import { recording, tempFolderStore } from '../helpers/stores.js';

let app: App;
const jobExecutors = { evaluate: evaluateJob, 'fine-tune': fineTuneJob };
/** What the job worker runs jobs with, over `on` (a wrapped store, to watch or break its writes). */
const environment = (on: ObjectStore = store) => ({ store: on, loader: app.services.loader, limits: app.services.limits });

let store: FolderStore;
let irisRows: { instances: Record<string, number>[]; labels: string[] };

const waitForJob = (id: string): Promise<Job> => waitForAppJob(app, id);

beforeAll(async () => {
  store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  app = serving(store.uri, { MODEL_ALIAS_TTL_SECONDS: '1' });
  const [header, ...lines] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
  const names = header.split(',').slice(0, 4);
  irisRows = {
    instances: lines.map((l) =>
      Object.fromEntries(
        l
          .split(',')
          .slice(0, 4)
          .map((v, i) => [names[i], Number(v)]),
      ),
    ),
    labels: lines.map((l) => l.split(',')[4]),
  };
});

describe('fine-tune', () => {
  it('trains iris on new rows into version 2, keeps validation accuracy, records lineage, moves queued -> running -> succeeded', async () => {
    const accepted = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', { ...irisRows, config: { epochs: 8, learningRate: 0.01 } });
    expect(accepted.statusCode).toBe(202);
    const job = await waitForJob(accepted.body.id);
    expect(job).toMatchObject({ kind: 'fine-tune', status: 'succeeded', attempts: 1 });
    const result = job.result as { version: number; metrics: Record<string, number>; baseMetrics: Record<string, number>; history: unknown[] };
    expect(result.version).toBe(2);
    expect(result.metrics.accuracy).toBeGreaterThanOrEqual(result.baseMetrics.accuracy);
    expect(result.history).toHaveLength(8);
    const manifest = (await call(app.metadata, 'GET', '/v2/models/iris/versions/2')).body;
    expect(manifest.lineage).toMatchObject({ parent: 1, jobId: job.id, source: 'fine-tune', dataSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest.labels).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(await readAlias(store, 'iris', 'production')).toMatchObject({ version: 1 }); // not promoted unless asked
  });

  it('records every status a job passes through: queued, running (with progress per epoch), succeeded', async () => {
    const watched = recording(store);
    const statuses: string[] = [];
    const put = watched.put;
    watched.put = async (key, body, options) => {
      if (key.startsWith('_jobs/')) {
        const record = JSON.parse(String(body));
        statuses.push(record.progress ? `${record.status}@${record.progress.epoch}` : record.status);
      }
      return put(key, body, options);
    };
    const job = await createJob(watched, 'fine-tune', { name: 'iris', version: 1 }, { ...irisRows, config: { epochs: 2 } });
    await runJob(environment(watched), job.id, jobExecutors);
    expect(statuses).toEqual(['queued', 'running', 'running@1', 'running@2', 'succeeded@2']);
  });

  it('fine-tunes the digits conv net, every layer trainable, on the default backend, keeping validation accuracy', async () => {
    const accepted = await call(app.fineTune, 'POST', '/v2/models/digits/fine-tune', {
      dataset: '_datasets/digits-test.jsonl',
      validation: { split: 0.25 },
      config: { epochs: 1, learningRate: 0.0005, batchSize: 32 },
    });
    const job = await waitForJob(accepted.body.id);
    expect(job.status).toBe('succeeded');
    const result = job.result as { metrics: Record<string, number>; baseMetrics: Record<string, number> };
    expect(tf.getBackend()).toBe('wasm');
    expect(result.metrics.accuracy).toBeGreaterThanOrEqual(result.baseMetrics.accuracy);
  });

  it('fails a diverging run (huge learning rate) and writes no version', async () => {
    const before = await listVersions(store, 'housing');
    const accepted = await call(app.fineTune, 'POST', '/v2/models/housing/fine-tune', {
      dataset: '_datasets/housing-test.csv',
      labelColumn: 'medv',
      config: { epochs: 3, learningRate: 5, optimizer: 'sgd' },
    });
    const job = await waitForJob(accepted.body.id);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/training diverged at epoch \d/);
    expect(await listVersions(store, 'housing')).toEqual(before);
  });

  it('a retried job finds the version it wrote instead of writing a second one', async () => {
    const job = await createJob(store, 'fine-tune', { name: 'iris', version: 1 }, { ...irisRows, config: { epochs: 1 } });
    const first = await runJob(environment(store), job.id, jobExecutors);
    const versions = await listVersions(store, 'iris');
    // The worker died after writing the version but before recording success: the job is redelivered.
    await updateJob(store, first, { status: 'running', result: undefined });
    const second = await runJob(environment(store), job.id, jobExecutors);
    expect(second.status).toBe('succeeded');
    expect((second.result as { version: number }).version).toBe((first.result as { version: number }).version);
    expect(await listVersions(store, 'iris')).toEqual(versions);
  });

  it('two concurrent jobs create two distinct versions', async () => {
    const before = await listVersions(store, 'iris');
    const jobs = await Promise.all([1, 2].map(() => createJob(store, 'fine-tune', { name: 'iris', version: 1 }, { ...irisRows, config: { epochs: 1 } })));
    const done = await Promise.all(jobs.map((j) => runJob(environment(store), j.id, jobExecutors)));
    const made = done.map((j) => (j.result as { version: number }).version);
    expect(new Set(made).size).toBe(2);
    expect(await listVersions(store, 'iris')).toEqual([...before, ...made.sort((a, b) => a - b)]);
  });

  it('a worker that dies while writing leaves no visible version', async () => {
    const before = await listVersions(store, 'iris');
    const dying = recording(store);
    const put = dying.put;
    dying.put = async (key, body, options) => {
      if (key.endsWith('/manifest.json') && key.startsWith('iris/versions/')) throw new Error('worker killed');
      return put(key, body, options);
    };
    const job = await createJob(store, 'fine-tune', { name: 'iris', version: 1 }, { ...irisRows, config: { epochs: 1 } });
    expect((await runJob(environment(dying), job.id, jobExecutors)).status).toBe('failed');
    expect(await listVersions(store, 'iris')).toEqual(before);
  });

  it('stops training when the time budget runs short, and still saves', async () => {
    const job = await createJob(store, 'fine-tune', { name: 'iris', version: 1 }, { ...irisRows, config: { epochs: 50 } });
    let calls = 0;
    const done = await runJob(environment(store), job.id, jobExecutors, undefined, () => (++calls > 2 ? 1_000 : 900_000));
    expect(done.status).toBe('succeeded');
    expect((done.result as { history: unknown[] }).history.length).toBeLessThan(50);
  });

  it('promotes only a better version (ifBetter), predict follows within the alias TTL, and rollback restores the old answers', async () => {
    const x = { sepal_length: 6.0, sepal_width: 2.7, petal_length: 5.1, petal_width: 1.6 }; // a borderline flower
    const rawBefore = (await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [x], raw: true })).body;
    expect(rawBefore.model_version).toBe('1');
    // Unconditional promotion of a version trained to change answers.
    const accepted = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', { ...irisRows, config: { epochs: 30, learningRate: 0.05 }, promote: { alias: 'production' } });
    const job = await waitForJob(accepted.body.id);
    const promoted = job.result as { version: number; promoted: { moved: boolean } };
    expect(promoted.promoted.moved).toBe(true);
    await new Promise((r) => setTimeout(r, 1100)); // MODEL_ALIAS_TTL_SECONDS=1
    const after = (await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [x], raw: true })).body;
    expect(after.model_version).toBe(String(promoted.version));
    expect(after.predictions).not.toEqual(rawBefore.predictions);
    const rolled = await call(app.fineTune, 'POST', '/v2/models/iris/aliases/production/rollback');
    expect(rolled.body).toMatchObject({ version: 1 });
    const back = (await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [x], raw: true })).body;
    expect(back).toEqual(rawBefore);
    // ifBetter: a version no better on validation accuracy does not move the alias.
    const notBetter = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', {
      ...irisRows,
      config: { epochs: 1, learningRate: 1e-6 },
      promote: { alias: 'production', ifBetter: 'accuracy' },
    });
    const kept = (await waitForJob(notBetter.body.id)).result as { promoted: { moved: boolean; reason: string } };
    expect(kept.promoted).toMatchObject({ moved: false, reason: expect.stringMatching(/does not beat version 1/) });
    expect(await readAlias(store, 'iris', 'production')).toMatchObject({ version: 1 });
  });

  it('PUT an alias points it at a version', async () => {
    const answer = await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/staging', { version: 2 });
    expect(answer.body).toMatchObject({ alias: 'staging', version: 2 });
    expect(Object.keys(answer.body).sort()).toEqual(['alias', 'model', 'previous', 'updatedAt', 'version']);
    expect((await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/staging', { version: 999 })).statusCode).toBe(404);
    expect((await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/latest', { version: 1 })).statusCode).toBe(400);
    // iris@2 would be another model than iris:2: an alias that is a number is refused, and nothing is written.
    const numbered = await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/2', { version: 1 });
    expect(numbered).toMatchObject({ statusCode: 400, body: { error: 'alias "2" is a number, which reads as a version: give an alias a name with a letter (production, v2)' } });
    expect(await readAlias(store, 'iris', '2')).toBeUndefined();
    // One stored before the rule is moved and rolled back as any other.
    await store.put('iris/aliases/7.json', JSON.stringify({ version: 1, previous: [], updatedAt: new Date().toISOString() }));
    expect(await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/7', { version: 2 })).toMatchObject({ statusCode: 200, body: { version: 2, previous: [1] } });
    expect(await call(app.fineTune, 'POST', '/v2/models/iris/aliases/7/rollback')).toMatchObject({ statusCode: 200, body: { version: 1 } });
    // An encoded '/' belongs to the name, which is refused for it (it routed nowhere: 404 'no route').
    const slashed = await callHttpApi(app.fineTune, 'PUT', '/v2/models/iris/aliases/a%2Fb', JSON.stringify({ version: 1 }));
    expect(slashed).toMatchObject({ statusCode: 400, body: { error: expect.stringContaining('alias') } });
  });

  it('a rollback sent again with ?from= (its answer lost) is a 409 naming where the alias points, not a second step back', async () => {
    for (const version of [1, 2, 1]) await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/canary', { version });
    const path = '/v2/models/iris/aliases/canary/rollback?from=1';
    expect((await call(app.fineTune, 'POST', path)).body).toMatchObject({ version: 2, previous: [1] });
    const again = await call(app.fineTune, 'POST', path);
    expect(again).toMatchObject({ statusCode: 409, body: { error: 'alias canary of iris points at version 2, not 1: nothing was rolled back' } });
    expect(await readAlias(store, 'iris', 'canary')).toMatchObject({ version: 2, previous: [1] });
    for (const from of ['0', 'two', '1.5', '']) {
      const refused = await call(app.fineTune, 'POST', `/v2/models/iris/aliases/canary/rollback?from=${from}`);
      expect(refused).toMatchObject({ statusCode: 400, body: { error: expect.stringContaining('from') } });
    }
    expect(await readAlias(store, 'iris', 'canary')).toMatchObject({ version: 2 });
  });

  it('GET an alias answers its record (version, history newest first, when it moved), as the store holds it; latest is the highest version; unset and damaged ones say so', async () => {
    for (const version of [1, 2, 1]) await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/looked-at', { version });
    const read = await call(app.metadata, 'GET', '/v2/models/iris/aliases/looked-at');
    const stored = await readAlias(store, 'iris', 'looked-at');
    expect(read).toMatchObject({ statusCode: 200, body: { model: 'iris', alias: 'looked-at', ...stored } });
    expect(read.body.previous).toEqual([2, 1]);
    // What a rollback answers is where GET said it would go.
    const rolled = await call(app.fineTune, 'POST', '/v2/models/iris/aliases/looked-at/rollback');
    expect(rolled.body.version).toBe(read.body.previous[0]);
    expect((await call(app.metadata, 'GET', '/v2/models/iris/aliases/looked-at')).body).toMatchObject({ version: 2, previous: [1] });

    const versions = await listVersions(store, 'iris');
    const latest = await call(app.metadata, 'GET', '/v2/models/iris/aliases/latest');
    expect(latest).toMatchObject({ statusCode: 200, body: { alias: 'latest', version: Math.max(...versions), previous: [] } });
    expect(Date.parse(latest.body.updatedAt)).not.toBeNaN();

    expect(await call(app.metadata, 'GET', '/v2/models/iris/aliases/unset')).toMatchObject({ statusCode: 404, body: { error: 'model iris has no alias unset' } });
    expect(await call(app.metadata, 'GET', '/v2/models/nope/aliases/production')).toMatchObject({ statusCode: 404, body: { error: 'no model named nope' } });
    expect((await call(app.metadata, 'GET', '/v2/models/iris/aliases/..')).statusCode).toBe(400);
    expect((await call(app.metadata, 'GET', '/v2/models/iris/aliases/looked-at?from=2')).statusCode).toBe(400);
    // A method the path is not served by is a 405 listing those it is, in Allow (RFC 9110).
    const patched = await call(app.fineTune, 'PATCH', '/v2/models/iris/aliases/looked-at', { version: 1 });
    expect(patched).toMatchObject({ statusCode: 405, headers: { allow: 'PUT, DELETE' }, body: { error: expect.stringContaining('use PUT, DELETE') } });
    await store.put('iris/aliases/garbled.json', '{"version": "two"}');
    const damaged = await call(app.metadata, 'GET', '/v2/models/iris/aliases/garbled');
    expect(damaged).toMatchObject({ statusCode: 500, body: { error: expect.stringContaining('alias garbled of model iris is damaged') } });
    await store.delete('iris/aliases/garbled.json');
  });

  it('a rollback sent a body is a 400 saying what a rollback does, the alias left where it was; an empty body or {} is no body', async () => {
    for (const version of [1, 2]) await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/body-test', { version });
    const path = '/v2/models/iris/aliases/body-test/rollback';
    for (const refused of [await call(app.fineTune, 'POST', path, { version: 2 }), await callHttpApi(app.fineTune as Handler, 'POST', path, 'not json')]) {
      expect(refused).toMatchObject({ statusCode: 400, body: { error: expect.stringContaining('this route takes no body') } });
      expect(refused.body.error).toContain('PUT /v2/models/{model}/aliases/{alias} with {"version": N}');
    }
    expect(await readAlias(store, 'iris', 'body-test')).toMatchObject({ version: 2 });
    expect((await callHttpApi(app.fineTune as Handler, 'POST', path, ' {} ')).body).toMatchObject({ version: 1 });
    await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/body-test', { version: 2 });
    expect((await callHttpApi(app.fineTune as Handler, 'POST', path, '')).body).toMatchObject({ version: 1 });
  });

  it('DELETE an alias removes it: requests naming it get 404 once the TTL passes, ?from= guards it, and the record answered sets it again', async () => {
    for (const version of [1, 2]) await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/doomed', { version });
    const predict = (ref: string) =>
      call(app.predict, 'POST', `/v2/models/iris/infer?alias=${ref}`, { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] });
    expect((await predict('doomed')).statusCode).toBe(200);
    const stale = await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/doomed?from=1');
    expect(stale).toMatchObject({ statusCode: 409, body: { error: 'alias doomed of iris points at version 2, not 1: nothing was deleted' } });
    const deleted = await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/doomed?from=2');
    expect(deleted).toMatchObject({ statusCode: 200, body: { model: 'iris', alias: 'doomed', deleted: true, version: 2, previous: [1] } });
    expect(await readAlias(store, 'iris', 'doomed')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1100)); // MODEL_ALIAS_TTL_SECONDS=1: the predict function read it before
    expect(await predict('doomed')).toMatchObject({ statusCode: 404, body: { error: 'model iris has no alias doomed' } });
    expect((await call(app.metadata, 'GET', '/v2/models/iris')).body.aliases).not.toHaveProperty('doomed');
    expect(await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/doomed')).toMatchObject({ statusCode: 404, body: { error: 'model iris has no alias doomed' } });
    expect((await call(app.fineTune, 'DELETE', '/v2/models/nope/aliases/doomed')).body.error).toBe('no model named nope');
    expect((await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/latest')).statusCode).toBe(400);
    // A body is refused, not read as where to point the alias.
    await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/doomed', { version: 1 });
    const withBody = await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/doomed', { version: 2 });
    expect(withBody).toMatchObject({ statusCode: 400, body: { error: expect.stringContaining('this route takes no body') } });
    expect(await readAlias(store, 'iris', 'doomed')).toMatchObject({ version: 1 });
    // A damaged alias file is removed as any other (no record to answer).
    await store.put('iris/aliases/junk.json', 'not json');
    expect(await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/junk')).toMatchObject({ statusCode: 200, body: { model: 'iris', alias: 'junk', deleted: true } });
    expect(await store.head('iris/aliases/junk.json')).toBeUndefined();
    // So is a damaged production, without ?from= (it names no version to compare); with one, there is none to match.
    const production = await store.get('iris/aliases/production.json');
    await store.put('iris/aliases/production.json', 'not json');
    expect((await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/production?from=1')).statusCode).toBe(409);
    expect(await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/production')).toMatchObject({ statusCode: 200, body: { alias: 'production', deleted: true } });
    await store.put('iris/aliases/production.json', production);
    // A rollback of an alias of a model that is not there names the model, as the other alias routes do.
    expect((await call(app.fineTune, 'POST', '/v2/models/nope/aliases/production/rollback')).body.error).toBe('no model named nope');
  });

  it('a fine-tune promoting to a new alias that is a number is a 400 at submit, before any training', async () => {
    const refused = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', { ...irisRows, config: { epochs: 1 }, promote: { alias: '2' } });
    expect(refused).toMatchObject({ statusCode: 400, body: { error: expect.stringContaining('alias "2" is a number') } });
  });

  it('without its production alias a model serves its highest version; PUT from the DELETE answer restores it', async () => {
    const served = async () => (await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 0.2]], raw: true })).body.model_version;
    const highest = Math.max(...(await listVersions(store, 'iris')));
    expect(highest).toBeGreaterThan(1); // the fine-tunes above made versions past production's
    expect(await served()).toBe('1');
    // Removing production changes what every request naming no version gets: it must name the version it removes.
    const unnamed = await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/production');
    expect(unnamed).toMatchObject({ statusCode: 400, body: { error: expect.stringContaining('?from=N') } });
    for (const from of ['0', 'two', '']) {
      expect(await call(app.fineTune, 'DELETE', `/v2/models/iris/aliases/production?from=${from}`)).toMatchObject({
        statusCode: 400,
        body: { error: expect.stringContaining('from') },
      });
    }
    const deleted = await call(app.fineTune, 'DELETE', '/v2/models/iris/aliases/production?from=1');
    expect(deleted.body).toMatchObject({ deleted: true, version: 1 });
    await new Promise((r) => setTimeout(r, 1100)); // MODEL_ALIAS_TTL_SECONDS=1
    expect(await served()).toBe(String(highest));
    expect(await call(app.metadata, 'GET', '/v2/models/iris/aliases/production')).toMatchObject({
      statusCode: 404,
      body: { error: `model iris has no alias production: requests that name no version get its highest version, ${highest}` },
    });
    expect(await call(app.fineTune, 'PUT', '/v2/models/iris/aliases/production', { version: deleted.body.version })).toMatchObject({ statusCode: 200, body: { version: 1 } });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await served()).toBe('1');
  });

  it("a job's answer tells inline rows by their count, not repeated at every poll; its id is read in capitals too", async () => {
    const instances = Array.from({ length: 1000 }, (_, i) => irisRows.instances[i % irisRows.instances.length]);
    const labels = instances.map((_, i) => irisRows.labels[i % irisRows.labels.length]);
    const config = { epochs: 2, trainableLayers: ['dense_Dense1'] };
    const job = await createJob(
      store,
      'fine-tune',
      { name: 'iris', version: 1 },
      { instances, labels, config, validation: { instances: instances.slice(0, 100), labels: labels.slice(0, 100) } },
    );
    for (const id of [job.id, job.id.toUpperCase()]) {
      const answer = await call(app.metadata, 'GET', `/v2/jobs/${id}`);
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.request).toEqual({
        instances: "(1000 items, not repeated in the job's answer)",
        labels: "(1000 items, not repeated in the job's answer)",
        config,
        validation: { instances: "(100 items, not repeated in the job's answer)", labels: labels.slice(0, 100) },
      });
    }
    expect(JSON.parse(await store.get(`_jobs/${job.id}.json`).then((b) => Buffer.from(b).toString('utf8'))).request.instances).toHaveLength(1000);
  });

  it('a read route sent a body is a 400 naming its query parameters', async () => {
    const answer = await callHttpApi(app.metadata as Handler, 'GET', '/v2/models/iris', '{"alias": "production"}');
    expect(answer).toMatchObject({ statusCode: 400, body: { error: 'this route takes no body, and 23 bytes came: its options are query parameters (alias)' } });
    const none = await callHttpApi(app.metadata as Handler, 'GET', '/v2/health/live', 'x');
    expect(none).toMatchObject({ statusCode: 400, body: { error: 'this route takes no body, and 1 bytes came: it takes nothing besides its path' } });
  });

  it.each([
    ['epochs out of range', '/v2/models/iris/fine-tune', () => ({ ...irisRows, config: { epochs: 0 } }), 400, /config.epochs/],
    ['batchSize out of range', '/v2/models/iris/fine-tune', () => ({ ...irisRows, config: { batchSize: 100000 } }), 400, /config.batchSize/],
    [
      "labels outside the model's",
      '/v2/models/iris/fine-tune',
      () => ({ instances: irisRows.instances.slice(0, 2), labels: ['setosa', 'rose'] }),
      400,
      /labels\[1\]: "rose" is not one of the model's labels/,
    ],
    ['an unknown base version', '/v2/models/iris/versions/99/fine-tune', () => irisRows, 404, /has no version 99/],
    [
      'an unknown layer',
      '/v2/models/iris/fine-tune',
      () => ({ ...irisRows, config: { trainableLayers: ['dense_9'] } }),
      400,
      /unknown layer\(s\) dense_9 in trainableLayers; the model has/,
    ],
    ['a graph model', '/v2/models/graphy/fine-tune', () => ({ instances: [[1, 2, 3, 4]], labels: ['0'] }), 400, /graph models cannot be trained/],
  ])('answers %s with %i', async (_case, path, body, status, message) => {
    if (!(await listVersions(store, 'graphy').catch(() => [])).length) await pushModelFolder(store, await writeGraphModel(), 'graphy');
    const answer = await call(app.fineTune, 'POST', path, body());
    expect(answer.statusCode).toBe(status);
    expect(answer.body.error).toMatch(message);
  });
});
