/**
 * A fine-tune job whose own record cannot be written for a moment, against a real S3 API: s3rver
 * behind a proxy that answers chosen PUTs of `_jobs/{id}.json` with 503 SlowDown, as S3 does when
 * it sheds load. The work done is never recorded as failed: record writes are retried, progress
 * records are best-effort, and a success that cannot be recorded leaves the job to its redelivery.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, updateJob, type Job } from '../../lib/jobs/index.js';
import { listVersions, readAlias, readManifest } from '../../lib/registry/index.js';
import { getJson, openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { call, serving, waitForJob, type App } from '../helpers/serving.js';
import { syncFolder } from '../helpers/stores.js';

let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;
let store: ObjectStore;
let app: App;
/** The same handlers with a job worker that may run one second: jobs in this process get that too. */
let quick: App;
/** The same handlers with heartbeats 100 ms apart: a dead attempt's job is taken over 300 ms after its last. */
const HEARTBEAT_MS = 100;
let beating: App;

const REQUEST = {
  dataset: '_datasets/iris-test.csv',
  labelColumn: 'species',
  validation: { split: 0.3 },
  config: { epochs: 3, batchSize: 8, learningRate: 0.01 },
  promote: { alias: 'staging' },
};
const MANIFEST = /^\/[^/]+\/iris\/versions\/\d+\/manifest\.json$/;
const JOB_RECORD = /^\/[^/]+\/_jobs\//;

interface Result {
  version: number;
  history: unknown[];
  promoted?: { moved: boolean };
}

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startConditionalS3Proxy(s3.endpoint);
  store = openStore(s3.uri, s3.s3Options); // straight to s3rver: what is really stored
  await syncFolder(store, 'models/iris', 'iris/');
  await syncFolder(store, 'models/_datasets', '_datasets/');
  // One attempt per S3 call: every refused PUT reaches the job code.
  const viaProxy = { S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', S3_MAX_ATTEMPTS: '1' };
  app = serving(s3.uri, viaProxy);
  quick = serving(s3.uri, { ...viaProxy, JOB_WORKER_TIMEOUT_SECONDS: '1' });
  beating = serving(s3.uri, { ...viaProxy, JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) });
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

/** The version a job wrote, as its manifest names it, and the alias it was promoted to. */
async function expectWritten(job: Job, versions: number[]): Promise<void> {
  const { version } = job.result as Result;
  expect(await listVersions(store, 'iris')).toEqual(versions);
  expect((await readManifest(store, 'iris', version)).lineage.jobId).toBe(job.id);
  expect(await readAlias(store, 'iris', 'staging')).toMatchObject({ version });
}

/**
 * A fine-tune run by one attempt of the worker whose every write of the job record after its
 * version's commit is refused past its retries: the attempt throws, its version stays.
 */
async function versionWrittenRecordRefused(): Promise<{ job: Job; version: number; before: number[] }> {
  const before = await listVersions(store, 'iris');
  const job = await createJob(store, 'fine-tune', { name: 'iris', version: 1 }, REQUEST);
  let written = false;
  proxy.throttle(({ method, path }) => {
    if (method === 'PUT' && MANIFEST.test(path)) written = true;
    return written && method === 'PUT' && JOB_RECORD.test(path);
  });
  try {
    await expect(beating.jobWorker({ jobId: job.id })).rejects.toThrow(/SlowDown|reduce your request rate/);
  } finally {
    proxy.throttle(undefined);
  }
  const [version] = (await listVersions(store, 'iris')).filter((v) => !before.includes(v));
  return { job, version, before };
}

describe('a fine-tune job when the store refuses writes of its record (503 SlowDown)', () => {
  it('two refused writes of its success record: the job ends succeeded with the version it wrote and promoted', async () => {
    const before = await listVersions(store, 'iris');
    let written = false;
    let refused = 0;
    proxy.throttle(({ method, path }) => {
      if (method === 'PUT' && MANIFEST.test(path)) written = true;
      if (!written || method !== 'PUT' || !JOB_RECORD.test(path) || refused === 2) return false;
      refused += 1;
      return true;
    });
    try {
      const accepted = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', REQUEST);
      expect(accepted.statusCode).toBe(202);
      const job = await waitForJob(app, accepted.body.id);
      expect(refused).toBe(2);
      expect(job).toMatchObject({ status: 'succeeded', result: { promoted: { moved: true } } });
      await expectWritten(job, [...before, (job.result as Result).version]);
    } finally {
      proxy.throttle(undefined);
    }
  });

  it('every progress record refused: training goes on and the job succeeds with every epoch', async () => {
    const before = await listVersions(store, 'iris');
    let recordWrites = 0;
    let written = false;
    // The 1st write of the record creates it (queued), the 2nd says running; then each epoch's
    // progress is refused, until the version is written.
    proxy.throttle(({ method, path }) => {
      if (method !== 'PUT') return false;
      if (MANIFEST.test(path)) written = true;
      return JOB_RECORD.test(path) && ++recordWrites > 2 && !written;
    });
    try {
      const accepted = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', REQUEST);
      const job = await waitForJob(app, accepted.body.id);
      expect(job.status).toBe('succeeded');
      expect(job.progress).toBeUndefined(); // no epoch's progress got through
      expect((job.result as Result).history).toHaveLength(3);
      await expectWritten(job, [...before, (job.result as Result).version]);
    } finally {
      proxy.throttle(undefined);
    }
  });

  it('its success record refused past every retry: the worker throws (no "failed"), and the redelivered event ends succeeded with that version', async () => {
    const { job, version, before } = await versionWrittenRecordRefused();
    const left = (await call(app.metadata, 'GET', `/v2/jobs/${job.id}`)).body as Job;
    expect(left).toMatchObject({ status: 'running', attempts: 1, heartbeat: expect.any(String) });
    // Lambda delivers the event again (maximumRetryAttempts: 1) a minute after the failed invocation,
    // when the heartbeat that attempt stopped renewing is stale: the job finds its version.
    await sleep(Math.max(0, Date.parse(left.heartbeat as string) + 3 * HEARTBEAT_MS + 50 - Date.now()));
    expect(await beating.jobWorker({ jobId: job.id })).toEqual({ id: job.id, status: 'succeeded' });
    const done = (await call(app.metadata, 'GET', `/v2/jobs/${job.id}`)).body as Job;
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { version } });
    await expectWritten(done, [...before, version]);
  });
});

describe('a fine-tune whose version is stored but whose outcome never is', () => {
  it('reads failed past its deadline, naming the version it stored, so that it is not trained again', async () => {
    const { job, version } = await versionWrittenRecordRefused();
    // Nothing delivers it again: its deadline passes with the record still "running".
    const record = (await getJson(store, `_jobs/${job.id}.json`)) as Job;
    await store.put(`_jobs/${job.id}.json`, JSON.stringify({ ...record, deadline: new Date(Date.now() - 1000).toISOString() }));
    const seen = (await call(app.metadata, 'GET', `/v2/jobs/${job.id}`)).body as Job;
    expect(seen.status).toBe('failed');
    expect(seen.error).toMatch(
      new RegExp(
        `^the worker stopped without recording an outcome by its deadline \\(.*\\); the version it trained is stored all the same: iris:${version} \\(GET /v2/models/iris/versions/${version}\\); submitting it again trains another$`,
      ),
    );
  });
});

describe('a job whose outcome is never recorded', () => {
  const IRIS_ROWS = { dataset: '_datasets/iris-test.csv', labelColumn: 'species' };

  it('run in this process (no worker function, nothing delivers it again): the client polling it sees "failed" once the worker\'s time and the outcome\'s margin have passed', async () => {
    let recordWrites = 0;
    // The 1st write of the record creates it (queued), the 2nd says running; every later one is refused.
    proxy.throttle(({ method, path }) => method === 'PUT' && JOB_RECORD.test(path) && ++recordWrites > 2);
    try {
      const accepted = await call(quick.evaluations, 'POST', '/v2/models/iris/evaluations?async=true', IRIS_ROWS);
      expect(accepted.statusCode).toBe(202);
      const started = Date.now();
      let job: Job;
      do {
        await new Promise((r) => setTimeout(r, 200));
        job = (await call(quick.metadata, 'GET', `/v2/jobs/${accepted.body.id}`)).body as Job;
      } while ((job.status === 'queued' || job.status === 'running') && Date.now() - started < 20_000);
      expect(recordWrites).toBeGreaterThan(2); // the outcome was attempted, and refused
      expect(job).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the worker stopped without recording an outcome/) });
      // What the store holds is still "running": the reader decided, from the deadline the worker recorded.
      expect(await getJson(store, `_jobs/${job.id}.json`)).toMatchObject({ status: 'running', deadline: expect.any(String) });
    } finally {
      proxy.throttle(undefined);
    }
  });

  it('by the worker function, its event delivered again after the deadline: the worker records the failure readers saw, and trains nothing', async () => {
    const before = await listVersions(store, 'iris');
    const job = await createJob(store, 'fine-tune', { name: 'iris', version: 1 }, REQUEST);
    // What an attempt stopped at its timeout leaves: running, its deadline passed.
    await updateJob(store, job, { status: 'running', attempts: 1, deadline: new Date(Date.now() - 1000).toISOString() });
    const seen = (await call(app.metadata, 'GET', `/v2/jobs/${job.id}`)).body as Job;
    expect(seen).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the worker stopped without recording an outcome/) });
    expect(await app.jobWorker({ jobId: job.id }, { getRemainingTimeInMillis: () => 900_000 })).toEqual({ id: job.id, status: 'failed' });
    expect(await getJson(store, `_jobs/${job.id}.json`)).toMatchObject({ status: 'failed', error: seen.error, attempts: 1 });
    expect(await listVersions(store, 'iris')).toEqual(before);
  });
});
