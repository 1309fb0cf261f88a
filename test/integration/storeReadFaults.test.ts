/**
 * Every read path against a real S3 API (s3rver) whose answers break mid-way: a connection dropped
 * before an answer or halfway through a body, a socket that goes silent before or during a body,
 * a 500 (test/helpers/conditionalS3Proxy.ts). A model load, an evaluation's data set and a batch
 * file's read must each end as a blink: 503 with Retry-After (a batch event thrown, so Lambda
 * delivers it again), nothing cached or recorded, no tensor kept; and the next request, the store
 * back, answers as before in the same process.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { ObjectStore } from '../../lib/store/index.js';
import type { ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { type ProxiedS3, startProxiedS3 } from '../helpers/proxiedS3.js';
import { writeHalfPlusTwo } from '../helpers/halfPlusTwo.js';
import type { S3rverHandle } from '../helpers/s3rver.js';
import { call, serving, waitForJob, type App } from '../helpers/serving.js';

const IRIS = { instances: [[5.1, 3.5, 1.4, 0.2]] };
const DATASET = { dataset: '_datasets/iris-9k.csv', labelColumn: 'species' };
const BATCH_KEY = 'batch/input/iris/rows.csv';

let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;
let store: ObjectStore;
let setting: ProxiedS3 | undefined;

/** Through the proxy; a silent socket fails in 1 s, two attempts a call. */
const app = (): App =>
  serving(s3.uri, { S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', S3_SOCKET_TIMEOUT_MS: '1000', S3_MAX_ATTEMPTS: '2' });

const getOf = (pattern: RegExp) => (request: { method: string; path: string }) => request.method === 'GET' && pattern.test(request.path);

beforeAll(async () => {
  setting = await startProxiedS3(['iris']);
  ({ s3, proxy, store } = setting);
  await pushModelFolder(store, await writeHalfPlusTwo(), 'hpt', {});
  // 9,000 rows: a body of 230 KB, read in many chunks, so a cut halfway comes mid-read.
  const [header, ...rows] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
  const big = [header, ...Array.from({ length: 300 }, () => rows).flat()].join('\n');
  await store.put(DATASET.dataset, big);
  await store.put(BATCH_KEY, big);
});
afterAll(() => setting?.stop());

const MODEL_FAULTS = [
  ['a body cut off halfway', 'truncate'],
  ['a socket silent halfway through the body', 'stall-body'],
  ['a socket silent before any answer', 'stall'],
  ['a connection reset', 'reset'],
  ['a 500 InternalError', { status: 500, code: 'InternalError' }],
] as const;

describe('a cold load whose weight shards fail', () => {
  it.each(
    MODEL_FAULTS.flatMap(([name, fault]) => [
      [name, 'iris (layers)', '/v1/models/iris:predict', IRIS, fault],
      [name, 'hpt (graph)', '/v1/models/hpt:predict', { instances: [1, 2] }, fault],
    ]),
  )('%s, %s: 503 with Retry-After, no tensor kept, and the next request loads it', async (_, __, path, body, fault) => {
    const served = app();
    await tf.ready();
    const tensors = tf.memory().numTensors;
    proxy.fail(getOf(/\.bin$/), fault as never);
    try {
      const failed = await call(served.predict, 'POST', path, body);
      expect(failed.statusCode).toBe(503);
      expect(Number(failed.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.stringify(failed.body)).not.toMatch(/InternalError|aborted|timed out|127\.0\.0\.1|\.bin/);
    } finally {
      proxy.fail(undefined);
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(served.services.loader.cache.keys()).toEqual([]);
    const next = await call(served.predict, 'POST', path, body);
    expect(next.statusCode).toBe(200);
    served.services.loader.clear();
  });

  it('concurrent cold loads during a blink share one load: one GET of the shard per attempt, one outcome', async () => {
    const served = app();
    let shardGets = 0;
    proxy.fail((request) => getOf(/\.bin$/)(request) && ++shardGets > 0, 'reset');
    try {
      const answers = await Promise.all(Array.from({ length: 4 }, () => call(served.predict, 'POST', '/v1/models/iris:predict', IRIS)));
      expect(answers.map((a) => a.statusCode)).toEqual([503, 503, 503, 503]);
    } finally {
      proxy.fail(undefined);
    }
    expect(shardGets).toBe(2); // S3_MAX_ATTEMPTS
    served.services.loader.clear();
  });
});

describe("an evaluation's data set cut off mid-read", () => {
  it.each([
    ['a body cut off halfway', 'truncate'],
    ['a socket silent halfway through the body', 'stall-body'],
  ] as const)('%s: 503 with Retry-After (was 500 "internal error"), then the same report', async (_, fault) => {
    const served = app();
    const before = await call(served.evaluate, 'POST', '/v2/models/iris/evaluate', DATASET);
    expect(before.statusCode).toBe(200);
    proxy.fail(getOf(/iris-9k/), fault);
    try {
      const cut = await call(served.evaluate, 'POST', '/v2/models/iris/evaluate', DATASET);
      expect(cut.statusCode).toBe(503);
      expect(Number(cut.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.stringify(cut.body)).not.toMatch(/aborted|timed out|iris-9k/);
    } finally {
      proxy.fail(undefined);
    }
    const after = await call(served.evaluate, 'POST', '/v2/models/iris/evaluate', DATASET);
    expect(after.statusCode).toBe(200);
    expect(after.body.report).toEqual(before.body.report);
  });
});

describe('a batch file cut off mid-read', () => {
  const event = () => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: s3.bucket }, object: { key: BATCH_KEY } } }] }) as unknown as S3Event;

  it.each([
    ['a body cut off halfway', 'truncate'],
    ['a socket silent halfway through the body', 'stall-body'],
  ] as const)('%s: the event fails (Lambda delivers it again) and no verdict is recorded (was "failed" for good); delivered again, it is scored', async (_, fault) => {
    const served = app();
    proxy.fail(getOf(/batch\/input/), fault);
    try {
      await expect(served.batchScore(event())).rejects.toThrow(/stopped midway/);
    } finally {
      proxy.fail(undefined);
    }
    expect(await store.head('batch/output/iris/rows.csv.manifest.json')).toBeUndefined();
    const [outcome] = (await served.batchScore(event())) as { status: string; manifest: { rows: { read: number; scored: number } } }[];
    expect(outcome.status).toBe('succeeded');
    expect(outcome.manifest.rows).toMatchObject({ read: 9000, scored: 9000 });
    await store.delete('batch/output/iris/rows.csv.manifest.json');
  });
});

describe('a job whose reads the store fails', () => {
  it('a fine-tune whose base model cannot be read is recorded failed naming the store (was "internal error"), not a bug', async () => {
    const served = app();
    expect((await call(served.predict, 'POST', '/v1/models/iris:predict', IRIS)).statusCode).toBe(200); // loaded: the request is accepted
    const [header, ...rows] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
    const instances = rows.map((line) =>
      Object.fromEntries(
        header
          .split(',')
          .slice(0, 4)
          .map((name, i) => [name, Number(line.split(',')[i])]),
      ),
    );
    proxy.fail(getOf(/\/iris\/versions\/1\/weights\.bin$/), 'reset');
    try {
      const accepted = await call(served.fineTune, 'POST', '/v2/models/iris/fine-tune', { instances, labels: rows.map((line) => line.split(',')[4]), config: { epochs: 1 } });
      expect(accepted.statusCode, JSON.stringify(accepted.body)).toBe(202);
      const job = await waitForJob(served, accepted.body.id);
      expect(job).toMatchObject({ status: 'failed', error: expect.stringMatching(/model store could not be reached .*submit it again/) });
    } finally {
      proxy.fail(undefined);
    }
  });
});
