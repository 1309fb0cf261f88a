/**
 * Lambda may deliver a job's event again while the job runs (a duplicate, arriving after the first
 * delivery has started it, not at the same moment), and delivers it again a minute after a failed
 * invocation (its process died, or was stopped at its timeout). The first must leave the job to the
 * attempt running it; the second must take it over. The attempt running a job renews a heartbeat
 * in its record. Here, with the real worker, a real fine-tune of iris (many short epochs: a job
 * that runs for seconds) and heartbeats a fraction of a second apart: on a folder store, a delivery
 * that finds the heartbeat fresh writes nothing and runs nothing, and an attempt whose renewal
 * finds the job taken over records nothing more; on S3 (s3rver behind the proxy that gives it S3's
 * conditional writes), a worker process killed mid-job (SIGKILL) is left alone while its heartbeat
 * is fresh and taken over once it is stale.
 */
import { spawn } from 'node:child_process';
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob, updateJob, type Job, type JobContext } from '../../lib/jobs/index.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import { listVersions } from '../../lib/registry/index.js';
import { getJson, openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { call, serving } from '../helpers/serving.js';
import { recording, syncFolder, tempFolderStore } from '../helpers/stores.js';

const IRIS = { name: 'iris', version: 1 };
/**
 * Iris's 30 rows in one batch, each epoch's progress recorded: a few ms an epoch on a folder, some
 * 25 on S3 (the record's read and conditional write). A job of seconds either way.
 */
const fineTune = (epochs: number) => ({ dataset: '_datasets/iris-test.csv', labelColumn: 'species', config: { epochs, batchSize: 32 } });
/** A worker invocation with Lambda's whole 15 minutes ahead. */
const LAMBDA = { getRemainingTimeInMillis: () => 900_000 };
/** Heartbeats every 100 ms (stale after 300 ms) in this process; 500 ms (stale after 1.5 s) in the child. */
const HEARTBEAT_MS = 100;
const CHILD_HEARTBEAT_MS = 500;
const WRITES = ['put', 'putStream', 'delete'];

const stored = (store: ObjectStore, job: Job) => getJson<Job>(store, `_jobs/${job.id}.json`);

/** Polls the stored record (every 10 ms, at most 20 s) until `ready` says so. */
async function until(store: ObjectStore, job: Job, what: string, ready: (record: Job) => boolean): Promise<Job> {
  for (const started = Date.now(); Date.now() - started < 20_000; await sleep(10)) {
    const record = await stored(store, job);
    if (ready(record)) return record;
  }
  const { status, attempts, progress } = await stored(store, job);
  throw new Error(`job ${job.id}: ${what} did not happen within 20 s (${JSON.stringify({ status, attempts, progress })})`);
}

/** Running, its training under way (an epoch's progress recorded). */
const training = (record: Job) => record.status === 'running' && record.progress !== undefined;

describe('a delivery that arrives while the job runs, on a folder store', () => {
  let store: ObjectStore;

  beforeAll(async () => {
    store = await tempFolderStore();
    const root = fileURLToPath(store.uri);
    await cp('models/iris', path.join(root, 'iris'), { recursive: true });
    await cp('models/_datasets/iris-test.csv', path.join(root, '_datasets/iris-test.csv'));
  });

  it('finds the heartbeat fresh: it writes nothing and runs nothing, and the first attempt ends the job with one version', async () => {
    const app = serving(store.uri, { JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    const before = await listVersions(store, 'iris');
    const job = await createJob(store, 'fine-tune', IRIS, fineTune(500));
    let firstEnded = false;
    const first = app.jobWorker({ jobId: job.id }, LAMBDA).finally(() => {
      firstEnded = true;
    });
    const started = await until(store, job, 'the start of training', training);
    await sleep(2 * HEARTBEAT_MS); // well after the start: the first attempt has renewed its heartbeat

    // The same event again, through the worker over the same store, every call it makes recorded.
    const watched = recording(store);
    const environment = { store: watched, loader: app.services.loader, limits: app.services.limits, heartbeatMs: HEARTBEAT_MS };
    const second = await runJob(environment, job.id, { 'fine-tune': fineTuneJob }, undefined, LAMBDA.getRemainingTimeInMillis);
    expect(second).toMatchObject({ status: 'running', owner: started.owner, attempts: 1 });
    expect(watched.calls.filter((c) => WRITES.includes(c.method))).toEqual([]); // it read the record, and wrote nothing
    expect(firstEnded).toBe(false); // it arrived, and answered, while the first attempt ran
    const running = await stored(store, job);
    expect(running).toMatchObject({ status: 'running', owner: started.owner, attempts: 1 });
    expect(Date.parse(running.heartbeat as string)).toBeGreaterThan(Date.parse(started.heartbeat as string));

    // The first attempt's outcome stands: one version, by a job started once.
    expect(await first).toEqual({ id: job.id, status: 'succeeded' });
    const after = await listVersions(store, 'iris');
    expect(after).toEqual([...before, after.at(-1)]);
    const done = await stored(store, job);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, owner: started.owner, result: { version: after.at(-1) } });
    expect(done.heartbeat).toBeUndefined(); // an ended job has no heartbeat to judge
    const seen = (await call(app.metadata, 'GET', `/v2/jobs/${job.id}`)).body as Job;
    expect(seen).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(seen.owner).toBeUndefined(); // readers never see which attempt ran it
  }, 60_000);

  it('an attempt taken over while it runs (a renewal finds another owner) stops renewing, and records nothing more', async () => {
    const app = serving(store.uri);
    const watched = recording(store);
    const job = await createJob(store, 'evaluate', IRIS, { dataset: '_datasets/iris-test.csv', labelColumn: 'species' });
    let successor: Job | undefined;
    let takenAt = 0;
    const executors = {
      evaluate: async ({ job: running, progress }: JobContext) => {
        // A redelivery takes the job over (the store says so) while this attempt still works.
        successor = await updateJob(store, running, { attempts: 2, owner: 'the redelivery', heartbeat: new Date().toISOString() });
        takenAt = watched.calls.length;
        for (let step = 0; step < 10; step += 1) {
          await sleep(HEARTBEAT_MS / 2);
          await progress({ step });
        }
        return { from: 'the first attempt' };
      },
    };
    const warnings: string[] = [];
    const environment = { store: watched, loader: app.services.loader, limits: app.services.limits, heartbeatMs: HEARTBEAT_MS };
    const done = await runJob(environment, job.id, executors, (_error, warning) => warnings.push(String(warning)), LAMBDA.getRemainingTimeInMillis);
    expect(warnings).toContain('this attempt stops recording its heartbeat and progress');
    expect(watched.calls.slice(takenAt).filter((c) => WRITES.includes(c.method))).toEqual([]);
    expect(done).toEqual(successor);
    expect(await stored(store, job)).toEqual(successor);
  });
});

describe('a worker whose process dies mid-job, on S3', () => {
  let s3: S3rverHandle;
  let proxy: ConditionalS3Proxy;
  let store: ObjectStore;
  let settings: Record<string, string>;

  beforeAll(async () => {
    s3 = await startS3rver();
    proxy = await startConditionalS3Proxy(s3.endpoint);
    await syncFolder(s3.store, 'models/iris', 'iris/');
    await syncFolder(s3.store, 'models/_datasets', '_datasets/');
    // Read through the proxy: s3rver alone may answer a read during a write with a torn body.
    store = openStore(s3.uri, { ...s3.s3Options, endpoint: proxy.endpoint });
    settings = { MODEL_STORE_URI: s3.uri, S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  it('is left alone while its heartbeat is fresh, and taken over once it is stale (SIGKILL): the job then succeeds', async () => {
    const app = serving(s3.uri, { ...settings, JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    const before = await listVersions(store, 'iris');
    const job = await createJob(store, 'fine-tune', IRIS, fineTune(100));
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/jobWorkerChild.ts'], {
      env: { ...process.env, ...settings, JOB_ID: job.id, JOB_HEARTBEAT_MS: String(CHILD_HEARTBEAT_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk) => (output += chunk));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      const started = await until(store, job, "the start of the child's training", training);
      await sleep(CHILD_HEARTBEAT_MS + 100); // it has renewed its heartbeat once
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL'); // it died mid-job, before any answer
      expect(output).not.toMatch(/"status":"succeeded"/);
      expect(await listVersions(store, 'iris')).toEqual(before);

      // At once, its heartbeat is fresh (judged by the child's interval): the delivery leaves the job.
      expect(await app.jobWorker({ jobId: job.id }, LAMBDA)).toEqual({ id: job.id, status: 'running' });
      const last = await stored(store, job);
      expect(last).toMatchObject({ status: 'running', owner: started.owner, attempts: 1, heartbeatMs: CHILD_HEARTBEAT_MS });
      expect(Date.parse(last.heartbeat as string)).toBeGreaterThan(Date.parse(started.heartbeat as string));

      // Three of the child's intervals after its last heartbeat, it is stale: the next delivery takes over.
      await sleep(Math.max(0, Date.parse(last.heartbeat as string) + 3 * CHILD_HEARTBEAT_MS + 50 - Date.now()));
      expect(await app.jobWorker({ jobId: job.id }, LAMBDA)).toEqual({ id: job.id, status: 'succeeded' });
      const after = await listVersions(store, 'iris');
      expect(after).toEqual([...before, after.at(-1)]);
      const done = await stored(store, job);
      expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { version: after.at(-1) } });
      expect(done.owner).not.toBe(started.owner);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
