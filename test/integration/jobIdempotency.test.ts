/**
 * Idempotency-Key on a job's submission: a client whose 202 was lost (a dropped connection, a
 * gateway timeout) sends the same request again with the same key, and gets the job the first made,
 * not a second fine-tune training a second version. Another request under a used key is a 422; a
 * submission whose worker could not be started (503, "retry later") starts it when retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes as evaluationsRoutes } from '../../handlers/evaluations.js';
import { lambdaHandler } from '../../lib/api/bind.js';
import { evaluationsRoutes as evaluationsTable } from '../../lib/api/routes/evaluate.js';
import { jobIdOf, type Job } from '../../lib/jobs/index.js';
import { keys, listVersions } from '../../lib/registry/index.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { getJson, listAll } from '../../lib/store/index.js';
import { startFakeLambda, type FakeLambda } from '../helpers/fakeLambda.js';
import { serving, waitForJob, type App, type Handler } from '../helpers/serving.js';
import { irisFolderStore } from '../helpers/stores.js';

let store: FolderStore;
let app: App;
beforeAll(async () => {
  store = await irisFolderStore();
  app = serving(store.uri);
});

const FINE_TUNE = { dataset: '_datasets/iris-test.csv', labelColumn: 'species', validation: { split: 0.2 }, config: { epochs: 2, batchSize: 16, seed: 7 } };
const EVALUATE = { dataset: '_datasets/iris-test.csv', labelColumn: 'species', save: true };

async function savedCount(model: string, version: number): Promise<number> {
  let n = 0;
  for await (const _ of listAll(store, keys.evaluationsPrefix(model, version))) n += 1;
  return n;
}

async function post(handler: Handler, path: string, body: unknown, key?: string) {
  return (await handler({ method: 'POST', path, body, headers: key === undefined ? {} : { 'idempotency-key': key } })) as {
    statusCode: number;
    body: { id?: string; error?: string; [field: string]: unknown };
  };
}

/** Job records (submissions' key records, under _jobs/keys/, are not jobs). */
async function jobCount(): Promise<number> {
  let n = 0;
  for await (const o of listAll(store, '_jobs/')) if (!o.key.startsWith('_jobs/keys/')) n += 1;
  return n;
}

describe('a fine-tune sent twice with one Idempotency-Key', () => {
  it('answers the first job both times and trains one version; another request under the key is a 422, another key another job', async () => {
    const before = await listVersions(store, 'iris');
    const jobsBefore = await jobCount();
    const first = await post(app.fineTune, '/v2/models/iris/fine-tune', FINE_TUNE, 'retry-me-1');
    expect(first.statusCode).toBe(202);
    expect(first.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/); // random, whatever the key: a guessed key reads no job
    const done = await waitForJob(app, first.body.id as string);
    expect(done.status).toBe('succeeded');
    const again = await post(app.fineTune, '/v2/models/iris/fine-tune', FINE_TUNE, 'retry-me-1');
    expect(again).toMatchObject({ statusCode: 202, body: { id: first.body.id, status: 'succeeded' } });
    expect(await listVersions(store, 'iris')).toHaveLength(before.length + 1);
    expect(await jobCount()).toBe(jobsBefore + 1);

    const other = await post(app.fineTune, '/v2/models/iris/fine-tune', { ...FINE_TUNE, config: { ...FINE_TUNE.config, epochs: 3 } }, 'retry-me-1');
    expect(other.statusCode).toBe(422);
    expect(other.body.error).toBe(`Idempotency-Key "retry-me-1" was sent before with another request (job ${first.body.id}): a new request takes a new key`);
    expect(await jobCount()).toBe(jobsBefore + 1);

    // The key names a submission to the model as the path names it: a version named is another submission.
    const pinned = await post(app.fineTune, '/v2/models/iris/versions/1/fine-tune', FINE_TUNE, 'retry-me-1');
    expect(pinned.statusCode).toBe(202);
    expect(pinned.body.id).not.toBe(first.body.id);
    await waitForJob(app, pinned.body.id as string);
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['not ASCII', 'clé'],
    ['over 255 characters', 'k'.repeat(256)],
  ])('refuses a key that is %s (400), and makes no job', async (_case, key) => {
    const jobsBefore = await jobCount();
    const answer = await post(app.fineTune, '/v2/models/iris/fine-tune', FINE_TUNE, key);
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(/^Idempotency-Key .*: expected 1 to 255 printable ASCII characters/);
    expect(await jobCount()).toBe(jobsBefore);
  });
});

describe('an evaluation with an Idempotency-Key', () => {
  it('as a job: one job and one saved evaluation for two submissions', async () => {
    const first = await post(app.evaluations, '/v2/models/iris/evaluations?async=true', EVALUATE, 'eval-1');
    expect((await waitForJob(app, first.body.id as string)).status).toBe('succeeded');
    const again = await post(app.evaluations, '/v2/models/iris/evaluations?async=true', EVALUATE, 'eval-1');
    expect(again).toMatchObject({ statusCode: 202, body: { id: first.body.id } });
    let saved = 0;
    for await (const _ of listAll(store, keys.evaluationsPrefix('iris', 1))) saved += 1;
    expect(saved).toBe(1);
  });

  it('saved now (no async): sent again, it answers the evaluation the first saved and saves one; another request is a 422', async () => {
    const before = await savedCount('iris', 1);
    const first = await post(app.evaluations, '/v2/models/iris/evaluations', EVALUATE, 'eval-2');
    expect(first.statusCode).toBe(200);
    const again = await post(app.evaluations, '/v2/models/iris/evaluations', EVALUATE, 'eval-2');
    expect(again.body).toEqual(first.body); // the same id, metrics and times: the evaluation saved, read back
    expect(await savedCount('iris', 1)).toBe(before + 1);
    // Read back, not run again: as saved, and as metadata lists it.
    expect(await getJson(store, keys.evaluation('iris', 1, first.body.id as string))).toEqual(first.body);

    // The same key sent as a job after it (or before it, eval-1 above) is another request, not a second evaluation.
    expect(await post(app.evaluations, '/v2/models/iris/evaluations?async=true', EVALUATE, 'eval-2')).toMatchObject({
      statusCode: 422,
      body: { error: 'Idempotency-Key "eval-2" was sent before without async=true (saved now): a new request takes a new key' },
    });
    expect(await post(app.evaluations, '/v2/models/iris/evaluations', EVALUATE, 'eval-1')).toMatchObject({
      statusCode: 422,
      body: { error: 'Idempotency-Key "eval-1" was sent before with async=true (as a job): a new request takes a new key' },
    });
    expect(await savedCount('iris', 1)).toBe(before + 1);
    const other = await post(app.evaluations, '/v2/models/iris/evaluations', { ...EVALUATE, threshold: 0.3 }, 'eval-2');
    expect(other).toMatchObject({
      statusCode: 422,
      body: { error: `Idempotency-Key "eval-2" was sent before with another request (evaluation ${first.body.id}): a new request takes a new key` },
    });
    // The key names a request to the model as the path names it; without a key, each send saves its own.
    expect((await post(app.evaluations, '/v2/models/iris/versions/1/evaluations', EVALUATE, 'eval-2')).body.id).not.toBe(first.body.id);
    await post(app.evaluations, '/v2/models/iris/evaluations', EVALUATE);
    expect(await savedCount('iris', 1)).toBe(before + 3);
  });

  it('a request refused before it ran uses no key: sent again corrected, under the same key, it runs', async () => {
    const missing = await post(app.evaluations, '/v2/models/iris/evaluations', { ...EVALUATE, dataset: '_datasets/nope.csv' }, 'eval-3');
    expect(missing.statusCode).toBe(404);
    const corrected = await post(app.evaluations, '/v2/models/iris/evaluations', EVALUATE, 'eval-3');
    expect(corrected).toMatchObject({ statusCode: 200, body: { model: { name: 'iris', version: 1 }, count: 30 } });
  });

  it('a first send whose save failed after it was recorded: sent again, it saves under the recorded id the version the first ran on, after a promotion too', async () => {
    const pointAt = async (version: number) =>
      expect(((await app.fineTune({ method: 'PUT', path: '/v2/models/iris/aliases/eval-stage', body: { version } })) as { statusCode: number }).statusCode).toBe(200);
    await pointAt(1);
    // The first send's store refuses the evaluation's write (a full disk, S3 blinking past its retries).
    const refusing = Object.assign(Object.create(app.services.store), {
      put: (key: string, ...rest: unknown[]) =>
        key.includes('/evaluations/') ? Promise.reject(new Error('EIO: i/o error')) : (app.services.store.put as (...a: unknown[]) => Promise<void>)(key, ...rest),
    });
    const failing = lambdaHandler(evaluationsTable, evaluationsRoutes, { ...app.services, store: refusing }) as Handler;
    const lost = await post(failing, '/v2/models/iris/evaluations?alias=eval-stage', EVALUATE, 'eval-4');
    expect(lost.statusCode).toBe(500);
    const before = await savedCount('iris', 1);
    const latest = Math.max(...(await listVersions(store, 'iris')));
    expect(latest).toBeGreaterThan(1); // the fine-tunes above
    await pointAt(latest);
    const again = await post(app.evaluations, '/v2/models/iris/evaluations?alias=eval-stage', EVALUATE, 'eval-4');
    expect(again).toMatchObject({ statusCode: 200, body: { model: { name: 'iris', version: 1 } } });
    expect(await savedCount('iris', 1)).toBe(before + 1);
    expect((await post(app.evaluations, '/v2/models/iris/evaluations?alias=eval-stage', EVALUATE, 'eval-4')).body).toEqual(again.body);
  });
});

describe('a submission whose worker did not start, sent again with its key', () => {
  let lambda: FakeLambda;
  /** What Lambda's Invoke API does with the next invoke: fail outright (500), accept and lose the event (202), or run the worker (202). */
  let next: 'fail' | 'lose' | 'run' = 'run';
  beforeAll(async () => {
    const worker = serving(store.uri);
    lambda = await startFakeLambda(async (payload) => {
      if (next === 'fail') return 500;
      if (next === 'run') await worker.jobWorker(payload, { getRemainingTimeInMillis: () => 900_000 });
      return 202;
    });
  });
  afterAll(() => lambda?.close());

  const api = () => serving(store.uri, { IS_OFFLINE: 'true', JOB_WORKER_FUNCTION: 'jobWorker', LAMBDA_ENDPOINT: lambda.endpoint });
  const body = { dataset: '_datasets/iris-test.csv', labelColumn: 'species' };

  it('failed to start (503): the retry queues the same job again and runs it', async () => {
    next = 'fail';
    const refused = await post(api().evaluations, '/v2/models/iris/evaluations?async=true', body, 'dispatch-1');
    expect(refused.statusCode).toBe(503);
    const id = await jobIdOf(store, { kind: 'evaluate', model: 'iris', key: 'dispatch-1' });
    expect(await getJson<Job>(store, keys.job(id))).toMatchObject({ status: 'failed', error: 'the job worker could not be started' });
    next = 'run';
    const tried = lambda.invokes();
    const retried = await post(api().evaluations, '/v2/models/iris/evaluations?async=true', body, 'dispatch-1');
    expect(retried).toMatchObject({ statusCode: 202, body: { id } });
    expect(lambda.invokes()).toBeGreaterThan(tried);
    expect(await getJson<Job>(store, keys.job(id))).toMatchObject({ status: 'succeeded', result: { metrics: expect.any(Object) } });
  });

  it('its event lost (still queued): the retry sends the worker again, and the job runs once', async () => {
    next = 'lose';
    const first = await post(api().evaluations, '/v2/models/iris/evaluations?async=true', body, 'dispatch-2');
    expect(first).toMatchObject({ statusCode: 202, body: { status: 'queued' } });
    next = 'run';
    const retried = await post(api().evaluations, '/v2/models/iris/evaluations?async=true', body, 'dispatch-2');
    expect(retried).toMatchObject({ statusCode: 202, body: { id: first.body.id } });
    expect(await getJson<Job>(store, keys.job(first.body.id as string))).toMatchObject({ status: 'succeeded', attempts: 1 });
    // Done: a third submission answers it as it is, and sends nothing.
    const invoked = lambda.invokes();
    expect(await post(api().evaluations, '/v2/models/iris/evaluations?async=true', body, 'dispatch-2')).toMatchObject({
      statusCode: 202,
      body: { id: first.body.id, status: 'succeeded' },
    });
    expect(lambda.invokes()).toBe(invoked);
  });
});
