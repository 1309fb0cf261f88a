/**
 * Starting the job worker is an asynchronous Lambda invoke; its answer can be lost after Lambda
 * accepted the event (a timeout, a dropped connection, a 5xx), and the worker then runs the job
 * while the API that submitted it saw an error. The API must not then write "failed" over the
 * record the worker is writing: it fails the job only while it is still queued. Here a real HTTP
 * endpoint plays Lambda's API: each Invoke it gets runs the real job worker handler on the event
 * (to its end), then answers 500, so the API's invoke fails after every retry; or answers 500
 * without running it, an invoke that failed outright.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keys } from '../../lib/registry/index.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { getJson, listAll } from '../../lib/store/index.js';
import type { Job } from '../../lib/jobs/index.js';
import { startFakeLambda, type FakeLambda } from '../helpers/fakeLambda.js';
import { call, serving } from '../helpers/serving.js';
import { irisFolderStore } from '../helpers/stores.js';

let store: FolderStore;
let lambda: FakeLambda;
/** Whether the endpoint runs the worker before it answers 500. */
let accepts = true;

beforeAll(async () => {
  store = await irisFolderStore();
  const worker = serving(store.uri);
  lambda = await startFakeLambda(async (payload) => {
    if (accepts) await worker.jobWorker(payload, { getRemainingTimeInMillis: () => 900_000 });
    return 500;
  });
});
afterAll(() => lambda?.close());

function api() {
  return serving(store.uri, { IS_OFFLINE: 'true', JOB_WORKER_FUNCTION: 'jobWorker', LAMBDA_ENDPOINT: lambda.endpoint });
}

const jobs = async () => Promise.all((await collect(listAll(store, '_jobs/'))).map((o) => getJson<Job>(store, o.key)));

it('a job the worker took is not failed by the API whose invoke of the worker failed', async () => {
  accepts = true;
  const body = { dataset: '_datasets/iris-test.csv', labelColumn: 'species', save: true };
  const answer = await call(api().evaluations, 'POST', '/v2/models/iris/evaluations?async=true', body);
  expect(lambda.invokes()).toBeGreaterThan(0);
  // The worker ran the job: its evaluation is saved, and its record says so.
  let saved = 0;
  for await (const _ of listAll(store, keys.evaluationsPrefix('iris', 1))) saved += 1;
  expect(saved).toBe(1);
  const [record] = await jobs();
  expect(record).toMatchObject({ status: 'succeeded', result: { metrics: expect.any(Object) } });
  // And the client is told the job was accepted, with its id, not to retry it.
  expect(answer.statusCode).toBe(202);
  expect(answer.body.id).toBe(record.id);
});

it('a job no worker took is failed, and the client told to retry (503)', async () => {
  accepts = false;
  const before = new Set((await jobs()).map((j) => j.id));
  const answer = await call(api().evaluations, 'POST', '/v2/models/iris/evaluations?async=true', { dataset: '_datasets/iris-test.csv', labelColumn: 'species' });
  expect(answer.statusCode).toBe(503);
  expect(answer.body.error).toMatch(/the job worker could not be started; retry later/);
  const created = (await jobs()).filter((j) => !before.has(j.id));
  expect(created).toHaveLength(1);
  expect(created[0]).toMatchObject({ status: 'failed', error: 'the job worker could not be started' });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
