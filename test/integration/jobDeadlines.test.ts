/**
 * Jobs that can no longer end well, on a real folder store with the real handlers and the real
 * evaluation: a queued job whose event never reached the worker (lost, throttled past its age,
 * a worker that cannot start), and an in-process evaluation at its deadline: stopped, or finished
 * past it.
 * Time is moved by the records' own times (createJob's `now`), not by waiting.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob, type Job } from '../../lib/jobs/index.js';
import { MAX_EVENT_AGE_MS, START_MARGIN_MS } from '../../lib/jobs/deadline.js';
import { evaluateJob } from '../../lib/ops/evaluate/executor.js';
import { getJson } from '../../lib/store/index.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { call, serving, type App } from '../helpers/serving.js';
import { irisFolderStore, putIris12k } from '../helpers/stores.js';

const IRIS = { name: 'iris', version: 1 };
const IRIS_ROWS = { dataset: '_datasets/iris-test.csv', labelColumn: 'species' };
const HOUR = 60 * 60 * 1000;
/** A worker invocation with Lambda's whole 15 minutes ahead. */
const LAMBDA = { getRemainingTimeInMillis: () => 900_000 };

let store: FolderStore;
let app: App;

beforeAll(async () => {
  store = await irisFolderStore();
  app = serving(store.uri);
});

const seen = async (id: string) => (await call(app.metadata, 'GET', `/v2/jobs/${id}`)).body as Job;
const stored = (id: string) => getJson<Job>(store, `_jobs/${id}.json`);

describe('a queued job whose event never reached the worker', () => {
  it('reads failed ("never started") once its event age and the start margin have passed, and an event delivered after that runs nothing', async () => {
    // Accepted with a worker whose events live an hour (serverless.yml), longer ago than that and the margin.
    const job = await createJob(store, 'evaluate', IRIS, IRIS_ROWS, { maxEventAgeMs: HOUR, now: Date.now() - HOUR - START_MARGIN_MS - 1000 });
    const read = await seen(job.id);
    expect(read).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the job never started: no worker took it by its deadline \(.+\); submit it again$/) });
    expect(await stored(job.id)).toMatchObject({ status: 'queued' }); // the reader decided, from the record's deadline
    // The event arrives late after all (a redelivery from the dead-letter queue, a throttled retry).
    expect(await app.jobWorker({ jobId: job.id }, LAMBDA)).toEqual({ id: job.id, status: 'failed' });
    const after = await stored(job.id);
    expect(after).toMatchObject({ status: 'failed', error: read.error, attempts: 0 });
    expect(after.result).toBeUndefined();
    expect(await seen(job.id)).toMatchObject({ status: 'failed', error: read.error });
  });

  it('within its event age it is still queued, and its event, when it comes, runs it', async () => {
    const job = await createJob(store, 'evaluate', IRIS, IRIS_ROWS, { maxEventAgeMs: HOUR, now: Date.now() - HOUR + 60_000 });
    expect(await seen(job.id)).toMatchObject({ status: 'queued' });
    expect(await app.jobWorker({ jobId: job.id }, LAMBDA)).toEqual({ id: job.id, status: 'succeeded' });
    expect(await seen(job.id)).toMatchObject({ status: 'succeeded', attempts: 1, result: { metrics: expect.any(Object) } });
  });

  it("a queued record written before queued jobs had deadlines: failed past Lambda's longest event age (6 hours), queued before", async () => {
    const record = (ageMs: number, id: string) => {
      const at = new Date(Date.now() - ageMs).toISOString();
      return { id, kind: 'evaluate', status: 'queued', model: IRIS, request: IRIS_ROWS, attempts: 0, createdAt: at, updatedAt: at };
    };
    const old = record(MAX_EVENT_AGE_MS + START_MARGIN_MS + 1000, '00000000-0000-4000-8000-000000000001');
    const recent = record(MAX_EVENT_AGE_MS - HOUR, '00000000-0000-4000-8000-000000000002');
    for (const r of [old, recent]) await store.put(`_jobs/${r.id}.json`, JSON.stringify(r));
    expect(await seen(old.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the job never started/) });
    expect(await seen(recent.id)).toMatchObject({ status: 'queued' });
  });
});

describe('an in-process evaluation at its deadline', () => {
  // An attempt whose time and margin are spent as it starts (deadline: now), standing for one that
  // ran until them: from here on its outcome can only be recorded failed.
  const spent = [() => 0, 0] as const;

  it('stops at its next chunk and saves nothing: the job stays failed, as readers saw it', async () => {
    // 12,000 rows: chunks, and reads of the file, for the deadline to come between.
    const job = await createJob(store, 'evaluate', IRIS, { dataset: await putIris12k(store), labelColumn: 'species', save: true }, { maxEventAgeMs: 0 });
    const environment = { store, loader: app.services.loader, limits: app.services.limits };
    const warnings: string[] = [];
    const done = await runJob(environment, job.id, { evaluate: evaluateJob }, (_error, warning) => warnings.push(String(warning)), ...spent);
    expect(warnings).toContain('this attempt stopped its work at its next step and wrote nothing of it (no version, no saved evaluation)');
    expect(done).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the worker stopped without recording an outcome by its deadline/) });
    expect((await store.listPage('iris/versions/1/evaluations/')).objects).toEqual([]); // none saved
    expect(await seen(job.id)).toMatchObject({ status: 'failed', error: done.error });
  });

  it('one that finishes all the same (its last step outlasted the margin) stays failed, as readers saw it, instead of turning succeeded', async () => {
    const job = await createJob(store, 'evaluate', IRIS, IRIS_ROWS, { maxEventAgeMs: 0 });
    let during: Job | undefined;
    const environment = { store, loader: app.services.loader, limits: app.services.limits };
    const executors = {
      evaluate: async (context: Parameters<typeof evaluateJob>[0]) => {
        // Not stopped: it runs on and finishes late.
        const result = await evaluateJob({ ...context, signal: new AbortController().signal });
        during = await seen(job.id); // a client polling as the evaluation ends
        return result;
      },
    };
    const done = await runJob(environment, job.id, executors, undefined, ...spent);
    expect(during).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the worker stopped without recording an outcome/) });
    expect(done).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the worker stopped without recording an outcome by its deadline/) });
    expect(done.result).toBeUndefined();
    expect(await seen(job.id)).toMatchObject({ status: 'failed', error: during?.error });
  });
});
