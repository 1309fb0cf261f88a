/**
 * A job has one output, whichever of its attempts writes it: one version for a fine-tune, one saved
 * evaluation for an evaluation with save: true. Two attempts can both reach the write: the first is
 * cut off from the job record (every read and write of it fails, the model's files do not), so
 * it never learns that its stale heartbeat let a delivery take the job over, and both run the job
 * to the end. Here their writes of the output are made to meet (each waits for the other's, then
 * both are sent together): looking for the other's output just before writing cannot tell them
 * apart, and the store's create-only write must. On a folder store and on S3 (s3rver behind the
 * proxy that gives it S3's conditional writes), with the real worker and a real fine-tune of iris.
 * Then, an attempt that dies once its version is the job's (claimed), before committing it: the
 * delivery that takes the job over finishes it with that version. Last, a job whose version a
 * release before the claim wrote is found by its manifest, as that release found it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob, type Job } from '../../lib/jobs/index.js';
import { evaluateJob } from '../../lib/ops/evaluate/executor.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import { keys, listVersions, readManifest } from '../../lib/registry/index.js';
import { getJson, listAll, openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { serving, type App } from '../helpers/serving.js';
import { irisFolderStore, syncFolder } from '../helpers/stores.js';

const IRIS = { name: 'iris', version: 1 };
const FINE_TUNE = { dataset: '_datasets/iris-test.csv', labelColumn: 'species', config: { epochs: 5, batchSize: 32 } };
const SAVED_EVALUATION = { dataset: '_datasets/iris-test.csv', labelColumn: 'species', save: true };
/** A worker invocation with Lambda's whole 15 minutes ahead. */
const LAMBDA = { getRemainingTimeInMillis: () => 900_000 };
/** Heartbeats 100 ms apart: an attempt cut off from the job record is taken over 300 ms after its last. */
const HEARTBEAT_MS = 100;
const EXECUTORS = { 'fine-tune': fineTuneJob, evaluate: evaluateJob };

/** A version's first file written (its number claimed): where an attempt starts writing its version. */
const VERSION_CLAIMED = /^iris\/versions\/\d+\/model\.json$/;
const VERSION_COMMITTED = /^iris\/versions\/\d+\/manifest\.json$/;
const SAVED = keys.evaluationsPrefix('iris', 1);

const stored = (store: ObjectStore, job: Job) => getJson<Job>(store, keys.job(job.id));

/** Polls the stored record (every 10 ms, at most 20 s) until `ready` says so. */
async function until(store: ObjectStore, job: Job, what: string, ready: (record: Job) => boolean): Promise<Job> {
  for (const started = Date.now(); Date.now() - started < 20_000; await sleep(10)) {
    const record = await stored(store, job);
    if (ready(record)) return record;
  }
  throw new Error(`job ${job.id}: ${what} did not happen within 20 s`);
}

const stale = (record: Job) => Date.now() - Date.parse(record.heartbeat as string) > 3 * HEARTBEAT_MS + 50;

/** Resolves for every caller once `count` have called it (or fails after 30 s, naming how many came). */
function meeting(count: number): () => Promise<void> {
  let arrived = 0;
  let open = () => {};
  const all = new Promise<void>((resolve) => (open = resolve));
  return async () => {
    arrived += 1;
    if (arrived === count) open();
    const late = sleep(30_000, undefined, { ref: false }).then(() => {
      throw new Error(`only ${arrived} of ${count} attempts came to write their output`);
    });
    await Promise.race([all, late]);
  };
}

interface AttemptStore {
  store: ObjectStore;
  /** From now on every read and write of the job record fails (connect ETIMEDOUT). */
  cutOff(): void;
}

/**
 * An attempt's store: the real one, except that a write of a key `meets` picks first waits at
 * `meet`, and `before` may refuse (throw) a write before it is sent.
 */
function attemptStore(inner: ObjectStore, job: Job, meets: (key: string) => boolean, meet: () => Promise<void>, before: (key: string) => void = () => {}): AttemptStore {
  const record = keys.job(job.id);
  let cut = false;
  const refuse = (key: string) => {
    if (cut && key === record) throw new Error('connect ETIMEDOUT (the job record)');
  };
  const store: ObjectStore = {
    uri: inner.uri,
    get: async (key, ...rest) => {
      refuse(key);
      return inner.get(key, ...rest);
    },
    getStream: async (key, ...rest) => {
      refuse(key);
      return inner.getStream(key, ...rest);
    },
    head: async (key) => {
      refuse(key);
      return inner.head(key);
    },
    put: async (key, ...rest) => {
      refuse(key);
      before(key);
      if (meets(key)) await meet();
      return inner.put(key, ...rest);
    },
    putStream: (key, ...rest) => inner.putStream(key, ...rest),
    delete: (key) => inner.delete(key),
    listPage: (prefix, options) => inner.listPage(prefix, options),
  };
  return { store, cutOff: () => (cut = true) };
}

/**
 * Runs the job twice: a first attempt, cut off from the job record once it is running, and a
 * second that takes the job over once the first's heartbeat is stale. Writes `meets` picks meet:
 * each attempt's first waits until the other's comes. Returns how each ended (the first cannot
 * record its outcome: an Error).
 */
async function twoAttemptsMeeting(store: ObjectStore, app: App, job: Job, meets: (key: string) => boolean): Promise<{ first: Job | Error; second: Job | Error }> {
  const meet = meeting(2);
  const [one, two] = [attemptStore(store, job, meets, meet), attemptStore(store, job, meets, meet)];
  const environment = (attempt: AttemptStore) => ({ store: attempt.store, loader: app.services.loader, limits: app.services.limits, heartbeatMs: HEARTBEAT_MS });
  const run = (attempt: AttemptStore) => runJob(environment(attempt), job.id, EXECUTORS, () => undefined, LAMBDA.getRemainingTimeInMillis).catch((error: Error) => error);
  const first = run(one);
  await until(store, job, 'the start', (record) => record.status === 'running');
  one.cutOff();
  await until(store, job, 'a stale heartbeat', stale);
  const second = run(two);
  return { first: await first, second: await second };
}

/** Keys under a model's versions/ that belong to no committed version (a staged version left behind). */
async function uncommitted(store: ObjectStore): Promise<string[]> {
  const committed = new Set((await listVersions(store, 'iris')).map(String));
  const left: string[] = [];
  for await (const object of listAll(store, keys.versionsPrefix('iris'))) {
    const version = object.key.split('/')[2];
    if (!committed.has(version)) left.push(object.key);
  }
  return left;
}

async function savedEvaluations(store: ObjectStore): Promise<string[]> {
  const found: string[] = [];
  for await (const object of listAll(store, SAVED)) found.push(object.key);
  return found;
}

function outputsOfTwoAttempts(setUp: () => Promise<{ store: ObjectStore; app: App }>) {
  let store: ObjectStore;
  let app: App;

  beforeAll(async () => {
    ({ store, app } = await setUp());
  });

  it("a fine-tune whose two attempts write their versions at the same moment: one version, the job's, and nothing left of the other", async () => {
    const before = await listVersions(store, 'iris');
    const job = await createJob(store, 'fine-tune', IRIS, FINE_TUNE);
    const { first, second } = await twoAttemptsMeeting(store, app, job, (key) => VERSION_CLAIMED.test(key));
    expect(first).toBeInstanceOf(Error); // its outcome could not be recorded
    expect(second).toMatchObject({ status: 'succeeded', attempts: 2 });
    const after = await listVersions(store, 'iris');
    expect(after).toEqual([...before, after.at(-1)]); // one new version for the one job
    const version = after.at(-1) as number;
    expect((await readManifest(store, 'iris', version)).lineage.jobId).toBe(job.id);
    expect(await uncommitted(store)).toEqual([]); // the other attempt's staged files removed
    expect(await stored(store, job)).toMatchObject({ status: 'succeeded', attempts: 2, result: { version } });
  }, 60_000);

  it('an evaluation with save: true whose two attempts save at the same moment: one saved evaluation, the one the job names', async () => {
    const before = await savedEvaluations(store);
    const job = await createJob(store, 'evaluate', IRIS, SAVED_EVALUATION);
    const { first, second } = await twoAttemptsMeeting(store, app, job, (key) => key.startsWith(SAVED));
    expect(first).toBeInstanceOf(Error);
    expect(second).toMatchObject({ status: 'succeeded', attempts: 2 });
    const done = await stored(store, job);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { count: 30 } });
    const { id } = done.result as { id: string };
    expect((await savedEvaluations(store)).filter((key) => !before.includes(key))).toEqual([keys.evaluation('iris', 1, id)]);
    expect(await getJson(store, keys.evaluation('iris', 1, id))).toEqual(done.result);
  }, 60_000);
}

describe('two attempts of one job writing its output at once, on a folder store', () => {
  outputsOfTwoAttempts(async () => {
    const store = await irisFolderStore();
    return { store, app: serving(store.uri, { JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) }) };
  });
});

describe('two attempts of one job writing its output at once, on S3', () => {
  let s3: S3rverHandle;
  let proxy: ConditionalS3Proxy;

  outputsOfTwoAttempts(async () => {
    s3 = await startS3rver();
    proxy = await startConditionalS3Proxy(s3.endpoint);
    await syncFolder(s3.store, 'models/iris', 'iris/');
    await syncFolder(s3.store, 'models/_datasets', '_datasets/');
    // Through the proxy, every read and write: s3rver alone ignores If-None-Match.
    const store = openStore(s3.uri, { ...s3.s3Options, endpoint: proxy.endpoint });
    const settings = { S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) };
    return { store, app: serving(s3.uri, settings) };
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });
});

describe("an attempt that dies once its version is the job's, before committing it", () => {
  it('leaves the claim; the delivery that takes the job over commits that version and ends the job succeeded', async () => {
    const store = await irisFolderStore();
    const app = serving(store.uri, { JOB_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    const before = await listVersions(store, 'iris');
    const job = await createJob(store, 'fine-tune', IRIS, FINE_TUNE);
    let attempt: AttemptStore | undefined;
    // Its process dies as it sends the manifest: nothing it sends from then on arrives.
    const dies = (key: string) => {
      if (!VERSION_COMMITTED.test(key)) return;
      attempt?.cutOff();
      throw new Error('the process died');
    };
    attempt = attemptStore(
      store,
      job,
      () => false,
      async () => {},
      dies,
    );
    const environment = { store: attempt.store, loader: app.services.loader, limits: app.services.limits, heartbeatMs: HEARTBEAT_MS };
    const first = await runJob(environment, job.id, EXECUTORS, () => undefined, LAMBDA.getRemainingTimeInMillis).catch((error: Error) => error);
    expect(first).toBeInstanceOf(Error);
    expect(await listVersions(store, 'iris')).toEqual(before); // no version exists yet
    const claim = await getJson<{ version: number }>(store, keys.fineTuneClaim('iris', job.id));
    await until(store, job, 'a stale heartbeat', stale);
    expect(await app.jobWorker({ jobId: job.id }, LAMBDA)).toEqual({ id: job.id, status: 'succeeded' });
    expect(await listVersions(store, 'iris')).toEqual([...before, claim.version]);
    expect(await stored(store, job)).toMatchObject({ status: 'succeeded', attempts: 2, result: { version: claim.version } });
  }, 60_000);
});

describe('a job whose version an earlier release wrote (no claim: that release found it by its manifest)', () => {
  it('delivered again after the deploy, it answers with that version and trains none', async () => {
    const store = await irisFolderStore();
    const app = serving(store.uri);
    const job = await createJob(store, 'fine-tune', IRIS, FINE_TUNE);
    expect(await app.jobWorker({ jobId: job.id }, LAMBDA)).toEqual({ id: job.id, status: 'succeeded' });
    const written = (await stored(store, job)).result as { version: number };
    // As the earlier release left it: the version, whose manifest names the job, and no claim.
    await store.delete(keys.fineTuneClaim('iris', job.id));
    const versions = await listVersions(store, 'iris');
    const context = {
      store,
      loader: app.services.loader,
      limits: app.services.limits,
      job,
      progress: async () => {},
      remainingMs: () => 900_000,
      signal: new AbortController().signal,
    };
    expect(await fineTuneJob(context)).toMatchObject({ version: written.version });
    expect(await listVersions(store, 'iris')).toEqual(versions);
  }, 60_000);
});
