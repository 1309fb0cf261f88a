/**
 * Lambda delivers an asynchronous event at least once: the job worker may get one job's event twice,
 * even at the same time. Both deliveries, run together through the real job worker handler on a real
 * folder store and on S3 (s3rver behind the proxy that gives it S3's conditional writes), must run the
 * job once: one saved evaluation, one fine-tuned version, and the record succeeded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob, updateJob, type Job } from '../../lib/jobs/index.js';
import { keys, listVersions } from '../../lib/registry/index.js';
import { getJson, listAll, openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { serving, type App } from '../helpers/serving.js';
import { irisFolderStore, syncFolder } from '../helpers/stores.js';

const IRIS = { name: 'iris', version: 1 };
const SAVED_EVALUATION = { dataset: '_datasets/iris-test.csv', labelColumn: 'species', save: true };
const FINE_TUNE = { dataset: '_datasets/iris-test.csv', labelColumn: 'species', config: { epochs: 1 } };
/** A worker invocation with Lambda's whole 15 minutes ahead. */
const LAMBDA = { getRemainingTimeInMillis: () => 900_000 };

async function savedEvaluations(store: ObjectStore): Promise<number> {
  let count = 0;
  for await (const _ of listAll(store, keys.evaluationsPrefix('iris', 1))) count += 1;
  return count;
}

/** The same event delivered twice at once; what each delivery answered, and the record after both. */
async function deliverTwice(app: App, store: ObjectStore, job: Job): Promise<{ answers: string[]; stored: Job }> {
  const answers = await Promise.all([1, 2].map(() => app.jobWorker({ jobId: job.id }, LAMBDA)));
  return { answers: answers.map((a) => a?.status ?? 'left out').sort(), stored: await getJson<Job>(store, `_jobs/${job.id}.json`) };
}

describe('one job event delivered twice at once, on a folder store', () => {
  let store: ObjectStore;
  let app: App;

  beforeAll(async () => {
    store = await irisFolderStore();
    app = serving(store.uri);
  });

  it('an evaluation with save: true runs once, saves one evaluation, and ends succeeded', async () => {
    const before = await savedEvaluations(store);
    const job = await createJob(store, 'evaluate', IRIS, SAVED_EVALUATION);
    const { answers, stored } = await deliverTwice(app, store, job);
    expect(await savedEvaluations(store)).toBe(before + 1);
    // The delivery that lost the start found the job running, and left it to the other.
    expect(answers).toEqual(['running', 'succeeded']);
    expect(stored).toMatchObject({ status: 'succeeded', attempts: 1, result: { metrics: expect.any(Object) } });
  });

  it('a fine-tune writes one version, and ends succeeded naming it', async () => {
    const before = await listVersions(store, 'iris');
    const job = await createJob(store, 'fine-tune', IRIS, FINE_TUNE);
    const { answers, stored } = await deliverTwice(app, store, job);
    const after = await listVersions(store, 'iris');
    expect(after).toHaveLength(before.length + 1);
    expect(answers).toEqual(['running', 'succeeded']);
    expect(stored).toMatchObject({ status: 'succeeded', attempts: 1, result: { version: after.at(-1) } });
  });

  it('an attempt taken over by another (a redelivery) does not overwrite the record its successor wrote', async () => {
    const job = await createJob(store, 'evaluate', IRIS, SAVED_EVALUATION);
    const environment = { store, loader: app.services.loader, limits: app.services.limits };
    let successor: Job | undefined;
    const executors = {
      evaluate: async ({ job: running }: { job: Job }) => {
        // While this attempt runs, a redelivery of its event takes the job and records its outcome.
        successor = await updateJob(store, running, { status: 'succeeded', attempts: 2, owner: 'the redelivery', result: { from: 'the redelivery' } });
        return { from: 'the first attempt' };
      },
    };
    const done = await runJob(environment, job.id, executors, undefined, LAMBDA.getRemainingTimeInMillis);
    expect(done).toEqual(successor);
    expect(await getJson(store, `_jobs/${job.id}.json`)).toMatchObject({ status: 'succeeded', attempts: 2, result: { from: 'the redelivery' } });
  });
});

describe('one job event delivered twice at once, on S3', () => {
  let s3: S3rverHandle;
  let proxy: ConditionalS3Proxy;
  let store: ObjectStore;
  let app: App;

  beforeAll(async () => {
    s3 = await startS3rver();
    proxy = await startConditionalS3Proxy(s3.endpoint);
    store = openStore(s3.uri, s3.s3Options);
    await syncFolder(store, 'models/iris', 'iris/');
    await syncFolder(store, 'models/_datasets', '_datasets/');
    app = serving(s3.uri, { S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  it('an evaluation with save: true runs once, saves one evaluation, and ends succeeded', async () => {
    const job = await createJob(store, 'evaluate', IRIS, SAVED_EVALUATION);
    const { answers, stored } = await deliverTwice(app, store, job);
    expect(await savedEvaluations(store)).toBe(1);
    expect(answers).toEqual(['running', 'succeeded']);
    expect(stored).toMatchObject({ status: 'succeeded', attempts: 1 });
  });
});
