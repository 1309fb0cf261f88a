/**
 * Lambda may deliver a job's event again while the job runs (a duplicate, arriving after the first
 * delivery has started it, not at the same moment), and delivers it again a minute after a failed
 * invocation (its process died, or was stopped at its timeout). The first must leave the job to the
 * attempt running it; the second must take it over. The attempt running a job renews a heartbeat
 * in its record. Here, with the real worker, a real fine-tune of iris (many short epochs: a job
 * that runs for seconds) and heartbeats a fraction of a second apart: on a folder store, a delivery
 * that finds the heartbeat fresh writes nothing and runs nothing, an attempt whose renewal finds
 * the job taken over records nothing more, and one taken over mid-work because its store was too
 * slow to renew its heartbeat stops its fine-tune or evaluation and writes nothing of it; on S3 (s3rver behind the proxy that gives it S3's
 * conditional writes), a worker process killed mid-job (SIGKILL) is left alone while its heartbeat
 * is fresh and taken over once it is stale.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob, updateJob, type Job, type JobContext } from '../../lib/jobs/index.js';
import { evaluateJob } from '../../lib/ops/evaluate/executor.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { keys, listVersions, readManifest } from '../../lib/registry/index.js';
import { getJson, listAll, openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { call, serving, type App } from '../helpers/serving.js';
import { holding, irisFolderStore, putIris12k, recording, syncFolder } from '../helpers/stores.js';

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
    store = await irisFolderStore();
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
    expect(warnings).toContain('this attempt stops recording its heartbeat and progress, and stops its work at its next step');
    expect(watched.calls.slice(takenAt).filter((c) => WRITES.includes(c.method))).toEqual([]);
    expect(done).toEqual(successor);
    expect(await stored(store, job)).toEqual(successor);
  });

  /**
   * A job whose first attempt is alive but cannot renew its heartbeat: every write of the record
   * after its start is held back (its store too slow to answer them) until the heartbeat is stale
   * and a delivery has taken the job over; then they are sent, and refused (the record has
   * changed). The first attempt, blocked at its first progress record meanwhile, then learns it
   * was taken over: it must stop its work at its next step and write nothing of it, leaving no
   * tensor behind. Both attempts run in this process.
   */
  async function takenOverWhileSlow(job: Job, app: App): Promise<{ owner: string; first: Job; second: { id: string; status: string } | undefined; warnings: string[] }> {
    const slow = holding(store, (key) => key === `_jobs/${job.id}.json`);
    slow.hold(1); // the start's write goes through
    const warnings: string[] = [];
    const report = (error: unknown, warning?: string) => warnings.push(`${warning} (${(error as Error).message})`);
    const environment = { store: slow, loader: app.services.loader, limits: app.services.limits, heartbeatMs: HEARTBEAT_MS };
    const first = runJob(environment, job.id, { 'fine-tune': fineTuneJob, evaluate: evaluateJob }, report, LAMBDA.getRemainingTimeInMillis);
    const started = await until(store, job, 'the start', (record) => record.status === 'running');
    await until(store, job, 'a stale heartbeat', (record) => Date.now() - Date.parse(record.heartbeat as string) > 3 * HEARTBEAT_MS + 50);
    expect(slow.waiting).toBeGreaterThan(0); // the first attempt is still at work: its heartbeat and progress wait
    const second = app.jobWorker({ jobId: job.id }, LAMBDA);
    await until(store, job, 'the takeover', (record) => record.attempts === 2);
    slow.release();
    return { owner: started.owner as string, first: await first, second: await second, warnings };
  }
  const STOPPED = /^this attempt stopped its work .* and wrote nothing/;

  it('taken over mid-training (its store too slow to renew its heartbeat): it stops training and writes no version; the one that took over writes the one version', async () => {
    const app = serving(store.uri, { JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    const before = await listVersions(store, 'iris');
    await initBackend();
    const tensors = tf.memory().numTensors;
    const job = await createJob(store, 'fine-tune', IRIS, fineTune(300));
    const { owner, first, second, warnings } = await takenOverWhileSlow(job, app);
    expect(second).toEqual({ id: job.id, status: 'succeeded' });
    const after = await listVersions(store, 'iris');
    expect(after).toEqual([...before, after.at(-1)]); // one new version, not one per attempt
    expect((await readManifest(store, 'iris', after.at(-1) as number)).lineage.jobId).toBe(job.id);
    const done = await stored(store, job);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { version: after.at(-1) } });
    expect(done.owner).not.toBe(owner);
    expect(first).toMatchObject({ attempts: 2, owner: done.owner }); // it answered with the record as its successor left it
    expect(warnings).toContainEqual(expect.stringMatching(STOPPED));
    expect(tf.memory().numTensors).toBe(tensors);
  }, 60_000);

  it('taken over without learning it (its store cannot reach the job record): it trains on and writes its version, and the one that took over finds that version instead of writing a second', async () => {
    const app = serving(store.uri, { JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    const before = await listVersions(store, 'iris');
    const job = await createJob(store, 'fine-tune', IRIS, fineTune(100));
    const record = `_jobs/${job.id}.json`;
    let reachable = true;
    const refuse = (key: string) => {
      if (!reachable && key === record) throw new Error('connect ETIMEDOUT (the job record)');
    };
    // Every read and write of the job record fails while it is unreachable; the model's files do not.
    const cutOff: ObjectStore = Object.assign(Object.create(store), {
      get(key: string, ...rest: unknown[]) {
        refuse(key);
        return (store.get as (...a: unknown[]) => unknown)(key, ...rest);
      },
      getStream(key: string, ...rest: unknown[]) {
        refuse(key);
        return (store.getStream as (...a: unknown[]) => unknown)(key, ...rest);
      },
      put(key: string, ...rest: unknown[]) {
        refuse(key);
        return (store.put as (...a: unknown[]) => unknown)(key, ...rest);
      },
    });
    const environment = { store: cutOff, loader: app.services.loader, limits: app.services.limits, heartbeatMs: HEARTBEAT_MS };
    const first = runJob(environment, job.id, { 'fine-tune': fineTuneJob }, () => undefined, LAMBDA.getRemainingTimeInMillis).catch((error: Error) => error);
    await until(store, job, 'the start', (r) => r.status === 'running');
    reachable = false;
    await until(store, job, 'a stale heartbeat', (r) => Date.now() - Date.parse(r.heartbeat as string) > 3 * HEARTBEAT_MS + 50);
    const second = app.jobWorker({ jobId: job.id }, LAMBDA);
    await until(store, job, 'the takeover', (r) => r.attempts === 2);
    // The first attempt, 300 ms ahead, ends its training and writes its version while the second trains.
    expect(await first).toBeInstanceOf(Error); // its outcome could not be recorded
    expect(await second).toEqual({ id: job.id, status: 'succeeded' });
    const after = await listVersions(store, 'iris');
    expect(after).toEqual([...before, after.at(-1)]); // one new version for the one job
    expect(await stored(store, job)).toMatchObject({ status: 'succeeded', attempts: 2, result: { version: after.at(-1) } });
  }, 60_000);

  it('taken over mid-evaluation: it stops at its next chunk and saves nothing; the one that took over saves the one evaluation', async () => {
    // 12,000 rows: the first attempt records its progress at 10,240 rows (chunks of 256).
    const dataset = await putIris12k(store);
    const app = serving(store.uri, { JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    await app.services.loader.withModel(IRIS, async () => undefined); // the model's weights stay cached: not the job's tensors
    const saved = async () => {
      const found: string[] = [];
      for await (const object of listAll(store, keys.evaluationsPrefix('iris', 1))) found.push(object.key);
      return found;
    };
    const before = await saved();
    const tensors = tf.memory().numTensors;
    const job = await createJob(store, 'evaluate', IRIS, { dataset, labelColumn: 'species', save: true });
    const { first, second, warnings } = await takenOverWhileSlow(job, app);
    expect(second).toEqual({ id: job.id, status: 'succeeded' });
    const done = await stored(store, job);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { count: 12_000 } });
    const id = (done.result as { id: string }).id;
    expect((await saved()).filter((key) => !before.includes(key))).toEqual([keys.evaluation('iris', 1, id)]); // one, its successor's
    expect(first).toMatchObject({ attempts: 2, owner: done.owner });
    expect(warnings).toContainEqual(expect.stringMatching(STOPPED));
    expect(tf.memory().numTensors).toBe(tensors);
  }, 60_000);
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
