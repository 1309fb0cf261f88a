/**
 * Evaluating inline instances within a memory budget: the rows are encoded a chunk at a time, as
 * many as fit, by the synchronous route, the job worker and the asynchronous route's precheck
 * alike. So a request the worker can run in chunks is accepted (it was a 413 when all its
 * instances did not fit at once), and a bad row in its last chunk is still a 400 naming it.
 */
import { cp, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { precheckEvaluation } from '../../lib/ops/evaluate/precheck.js';
import { evaluateRequest } from '../../lib/ops/evaluate/request.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, serving, waitForJob, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

/** A digit's input is 28 x 28 x 1 float32: 3 KB. */
const ROW_BYTES = 28 * 28 * 4;
/** Room for 167 encoded digits (a forward row, about 0.1 MB, runs a few at a time): fewer than MAX_BATCH's 256. */
const BUDGET = 512 * 1024;
/** More than fit at once, so more than one chunk. */
const ROWS = 300;

let tight: App;
let instances: unknown[];
let labels: string[];

/** A fixed budget of `rows` encoded digits. */
const budgetOf = (rows: number) => ({
  available: () => rows * ROW_BYTES,
  availableFor: () => rows * ROW_BYTES,
  promisable: () => rows * ROW_BYTES,
  describe: () => `${rows} digits`,
  largerSettingFor: () => 'a function of at least 4096 MB (JOB_WORKER_MEMORY_SIZE)',
});

beforeAll(async () => {
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  tight = serving(store.uri, { MEMORY_BUDGET_BYTES: String(BUDGET) });
  const rows = (await readFile('models/_datasets/digits-test.jsonl', 'utf8'))
    .trim()
    .split('\n')
    .slice(0, ROWS)
    .map((l) => JSON.parse(l));
  instances = rows.map((r) => r.image);
  labels = rows.map((r) => String(r.label));
  expect(ROWS * ROW_BYTES).toBeGreaterThan(BUDGET);
  // The model loaded and its cost per row measured first: the tensor counts below are the requests' own.
  expect((await call(tight.predict, 'POST', '/v1/models/digits:predict', { instances: instances.slice(0, 1) })).statusCode).toBe(200);
});

describe('inline instances that do not fit the budget at once', () => {
  it('are evaluated synchronously in chunks that fit, not MAX_BATCH (256) at once', async () => {
    const before = tf.memory().numTensors;
    const now = await call(tight.evaluate, 'POST', '/v2/models/digits/evaluate', { instances, labels });
    expect(now.statusCode, JSON.stringify(now.body).slice(0, 300)).toBe(200);
    expect(now.body.count).toBe(ROWS);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('are accepted as a job (202) that succeeds with the metrics of the synchronous run', async () => {
    const now = await call(tight.evaluate, 'POST', '/v2/models/digits/evaluate', { instances, labels });
    const before = tf.memory().numTensors;
    const accepted = await call(tight.evaluations, 'POST', '/v2/models/digits/evaluations?async=true', { instances, labels });
    expect(accepted.statusCode, JSON.stringify(accepted.body).slice(0, 300)).toBe(202);
    const job = await waitForJob(tight, accepted.body.id);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('succeeded');
    expect((job.result as { metrics: unknown }).metrics).toEqual(now.body.metrics);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with a bad instance in the last chunk are a 400 naming it, before any job is started', async () => {
    const before = tf.memory().numTensors;
    const bad = [...instances.slice(0, -1), { b64: 'bm90IGFuIGltYWdl' }];
    const refused = await call(tight.evaluations, 'POST', '/v2/models/digits/evaluations?async=true', { instances: bad, labels });
    expect(refused.statusCode).toBe(400);
    expect(refused.body.error).toMatch(new RegExp(`^instances\\[${ROWS - 1}\\]`));
    expect(refused.body.id).toBeUndefined();
    const now = await call(tight.evaluate, 'POST', '/v2/models/digits/evaluate', { instances: bad, labels });
    expect(now.body.error).toBe(refused.body.error);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('raw rows that fill the chunks after a chunk of images', () => {
  it('are a 400 naming the first of them on both routes (the synchronous route evaluated them: 200)', async () => {
    // The first chunk holds as many images as fit the budget; the raw rows (28 x 28 x 1, what the model takes) start the next.
    const fit = Math.floor(BUDGET / ROW_BYTES);
    const rawRow = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0]));
    const mixed = [...instances.slice(0, fit), rawRow, rawRow, rawRow];
    const body = { instances: mixed, labels: labels.slice(0, mixed.length) };
    const before = tf.memory().numTensors;
    const now = await call(tight.evaluate, 'POST', '/v2/models/digits/evaluate', body);
    expect(now.statusCode).toBe(400);
    expect(now.body.error).toMatch(new RegExp(`^instances\\[${fit}\\] is not an instance like instances\\[0\\]: send every instance as`));
    const refused = await call(tight.evaluations, 'POST', '/v2/models/digits/evaluations?async=true', body);
    expect(refused.statusCode).toBe(400);
    expect(refused.body.error).toBe(now.body.error);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('an image too large to decode within the budget', () => {
  it('is the same 413 on both routes when jobs run here, not a job that fails with it', async () => {
    // 512 x 512: its decoded planes alone are more than the 512 KB budget.
    const photo = b64(pngBytes(512, 512, (x, y) => [x & 255, y & 255, 0, 255]));
    const body = { instances: [instances[0], photo], labels: labels.slice(0, 2) };
    const before = tf.memory().numTensors;
    const now = await call(tight.evaluate, 'POST', '/v2/models/digits/evaluate', body);
    expect(now.statusCode).toBe(413);
    const refused = await call(tight.evaluations, 'POST', '/v2/models/digits/evaluations?async=true', body);
    expect(refused.statusCode, JSON.stringify(refused.body).slice(0, 300)).toBe(413);
    expect(refused.body.id).toBeUndefined();
    // The figures after "takes" are of the memory free at the time; what is refused and why is the same.
    const prefix = (error: string) => error.slice(0, error.indexOf(' takes '));
    expect(prefix(refused.body.error)).toBe(prefix(now.body.error));
    expect(refused.body.error).toMatch(/^instances\[1\]: image is 512x512; .*a MEMORY_BUDGET_BYTES of at least \d+ would take it$/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the precheck: chunks of what this function can hold, refusals of what the worker cannot run', () => {
  const precheck = (budget: number, worker: number, values = instances) =>
    tight.services.loader.withModel({ name: 'digits' }, (loaded) =>
      precheckEvaluation(loaded, evaluateRequest.parse({ instances: values, labels: labels.slice(0, values.length) }), {
        maxBatch: 256,
        budget: budgetOf(budget),
        worker: budgetOf(worker),
      }),
    );

  it('checks every instance a few at a time when this function holds few', async () => {
    // 12 digits' rows: room to decode one as well (about 31 KB).
    await expect(precheck(12, 12)).resolves.toBeUndefined();
    await expect(precheck(12, 12, [...instances.slice(0, 20), 7])).rejects.toThrow(/^instances\[20\] is not an instance like instances\[0\]/);
    await expect(precheck(12, 12, [...instances.slice(0, 20), { b64: 'bm90IGFuIGltYWdl' }])).rejects.toThrow(/^instances\[20\]/);
  });

  it('leaves to the job an image this function cannot decode but the worker may (its own budget decides there)', async () => {
    // One digit's row fits this function, decoding it (about 31 KB) does not.
    await expect(precheck(1, ROWS, instances.slice(0, 3))).resolves.toBeUndefined();
  });

  it('is a 413 naming the setting of the worker for an image neither this function nor the worker can decode', async () => {
    // Decoding a digit takes about 31 KB: 10 digits' rows.
    await expect(precheck(1, 5, instances.slice(0, 3))).rejects.toThrow(
      /^instances\[0\]: image is 28x28; .*this function can give 5 digits: .*a function of at least 4096 MB \(JOB_WORKER_MEMORY_SIZE\) would take it$/,
    );
    await expect(precheck(3, 5, instances.slice(0, 3))).rejects.toThrow(/^instances\[0\]: image is 28x28; /);
  });

  it('checks the rows after an image this function cannot decode: a bad one is its 400, not a failed job', async () => {
    // The bad row in a chunk of its own (one row fits), and in the photo's chunk (three fit).
    const notAnImage = { b64: 'bm90IGFuIGltYWdl' };
    await expect(precheck(1, ROWS, [instances[0], notAnImage])).rejects.toThrow(/^instances\[1\]/);
    await expect(precheck(3, ROWS, [instances[0], notAnImage, instances[1]])).rejects.toThrow(/^instances\[1\]/);
    const rawRow = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0]));
    await expect(precheck(1, ROWS, [instances[0], instances[1], rawRow])).rejects.toThrow(/^instances\[2\] is not an instance like instances\[0\]/);
    await expect(precheck(3, ROWS, [instances[0], rawRow])).rejects.toThrow(/^instances\[1\] is not an instance like instances\[0\]/);
  });

  it('is a 413 when not one instance fits the worker, and leaves to the job a row only the worker can hold', async () => {
    await expect(precheck(ROWS, 0.5)).rejects.toThrow(
      /^instances: one instance makes 0\.0 MB of model input .*: not even one fits; a function of at least 4096 MB \(JOB_WORKER_MEMORY_SIZE\) would take one$/,
    );
    await expect(precheck(0.5, 1, [{ b64: 'bm90IGFuIGltYWdl' }])).resolves.toBeUndefined();
  });
});
