/**
 * Idempotency-Key on a job's submission: a client whose 202 was lost (a dropped connection, a
 * gateway timeout) sends the same request again with the same key, and gets the job the first made,
 * not a second fine-tune training a second version. Another request under a used key is a 422; a
 * submission whose worker could not be started (503, "retry later") starts it when retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdFor, type Job } from '../../lib/jobs/index.js';
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

async function post(handler: Handler, path: string, body: unknown, key?: string) {
  return (await handler({ method: 'POST', path, body, headers: key === undefined ? {} : { 'idempotency-key': key } })) as {
    statusCode: number;
    body: { id?: string; error?: string };
  };
}

async function jobCount(): Promise<number> {
  let n = 0;
  for await (const _ of listAll(store, '_jobs/')) n += 1;
  return n;
}

describe('a fine-tune sent twice with one Idempotency-Key', () => {
  it('answers the first job both times and trains one version; another request under the key is a 422, another key another job', async () => {
    const before = await listVersions(store, 'iris');
    const jobsBefore = await jobCount();
    const first = await post(app.fineTune, '/v2/models/iris/fine-tune', FINE_TUNE, 'retry-me-1');
    expect(first.statusCode).toBe(202);
    expect(first.body.id).toBe(jobIdFor('fine-tune', 'iris', 'retry-me-1'));
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

  it('saved now (no async): a 400 that says to send it as a job, and nothing saved', async () => {
    const answer = await post(app.evaluations, '/v2/models/iris/evaluations', EVALUATE, 'eval-2');
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toBe('Idempotency-Key: a saved evaluation keeps one record per key only as a job: send it with async=true');
  });
});

describe('a submission whose worker could not be started, sent again with its key', () => {
  let lambda: FakeLambda;
  let starts = true;
  beforeAll(async () => {
    const worker = serving(store.uri);
    // Lambda's Invoke API: while `starts` is false an invoke fails outright (500); then it runs the worker and is accepted (202).
    lambda = await startFakeLambda(async (payload) => {
      if (!starts) return 500;
      await worker.jobWorker(payload, { getRemainingTimeInMillis: () => 900_000 });
      return 202;
    });
  });
  afterAll(() => lambda?.close());

  it('is a 503 first, then the same job, queued again and run', async () => {
    const api = serving(store.uri, { IS_OFFLINE: 'true', JOB_WORKER_FUNCTION: 'jobWorker', LAMBDA_ENDPOINT: lambda.endpoint });
    const body = { dataset: '_datasets/iris-test.csv', labelColumn: 'species' };
    starts = false;
    const refused = await post(api.evaluations, '/v2/models/iris/evaluations?async=true', body, 'dispatch-1');
    expect(refused.statusCode).toBe(503);
    const id = jobIdFor('evaluate', 'iris', 'dispatch-1');
    expect(await getJson<Job>(store, keys.job(id))).toMatchObject({ status: 'failed', error: 'the job worker could not be started' });
    starts = true;
    const tried = lambda.invokes();
    const retried = await post(api.evaluations, '/v2/models/iris/evaluations?async=true', body, 'dispatch-1');
    expect(retried).toMatchObject({ statusCode: 202, body: { id } });
    expect(lambda.invokes()).toBeGreaterThan(tried);
    expect(await getJson<Job>(store, keys.job(id))).toMatchObject({ status: 'succeeded', result: { metrics: expect.any(Object) } });
  });
});
