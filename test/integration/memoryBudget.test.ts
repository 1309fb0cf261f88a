/**
 * Memory budgets (lib/runtime/memory.ts, lib/ops/fineTune/budget.ts): work that grows with the
 * request runs in chunks that fit MEMORY_BUDGET_BYTES, so its peak stays under the budget and its
 * answers equal an unconstrained run's; work of which not even one row fits is a 413 with the
 * figures before anything is allocated; a fine-tune that does not fit names the largest batchSize
 * that does, and that batchSize is accepted and trains.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, serving, waitForJob, type Answer, type App, type Handler } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeImageModel } from '../helpers/tinyModels.js';

const MB = 2 ** 20;
/** Budget of the constrained app: a few digits rows per chunk (a forward row of the conv net is ~0.1 MB). */
const BUDGET = 1 * MB;

let free: App;
let tight: App;
let tiny: App;
let digits: unknown[];
let digitLabels: number[];

/** The call's answer and the peak bytes its tensors took above what was alive before it. */
async function peakOf(handler: Handler, path: string, body: unknown): Promise<{ answer: Answer; peak: number }> {
  const before = tf.memory().numBytes;
  let answer: Answer | undefined;
  const profile = await tf.profile(async () => {
    answer = await call(handler, 'POST', path, body);
  });
  return { answer: answer as Answer, peak: profile.peakBytes - before };
}

beforeAll(async () => {
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  free = serving(store.uri);
  tight = serving(store.uri, { MEMORY_BUDGET_BYTES: String(BUDGET) });
  // Room for a digit's input row (3 KB) and for decoding it (31 KB: its RGBA, float planes and
  // tensors), not for its pass through the model (41 KB of activations by the topology's estimate).
  tiny = serving(store.uri, { MEMORY_BUDGET_BYTES: String(36 * 1024) });
  const lines = (await readFile('models/_datasets/digits-test.jsonl', 'utf8')).trim().split('\n');
  const rows = lines.slice(0, 40).map((l) => JSON.parse(l));
  digits = rows.map((r) => r.image);
  digitLabels = rows.map((r) => r.label);
  // Weights loaded before anything is measured: the peaks below are the requests' own.
  for (const app of [free, tight, tiny]) expect((await call(app.metadata, 'GET', '/v2/models/digits')).statusCode).toBe(200);
  await call(free.predict, 'POST', '/v2/models/digits/infer', { inputs: [] });
  // Each pass's cost per row is measured (under tf.profile) on its first use: measured here, so
  // the profiles below are not cut short by a nested one.
  await call(tight.predict, 'POST', '/v1/models/digits:predict', { instances: digits.slice(0, 1) });
  await call(tight.explain, 'POST', '/v2/models/digits/explain', { instances: digits.slice(0, 1), method: 'saliency' });
});

describe('chunks within the budget', () => {
  it('predict on 40 images peaks under the budget and answers as an unconstrained run does', async () => {
    const expected = await call(free.predict, 'POST', '/v1/models/digits:predict', { instances: digits });
    const { answer, peak } = await peakOf(tight.predict, '/v1/models/digits:predict', { instances: digits });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toEqual(expected.body);
    expect(peak).toBeLessThanOrEqual(BUDGET);
    // The whole batch at once would not have fit: the chunking is what kept it under.
    const whole = await peakOf(free.predict, '/v1/models/digits:predict', { instances: digits });
    expect(whole.peak).toBeGreaterThan(BUDGET);
  });

  it('integrated gradients (64 steps) peak under the budget with the attributions of an unconstrained run', async () => {
    const body = { instances: digits.slice(0, 2), method: 'integratedGradients', steps: 64 };
    const expected = await call(free.explain, 'POST', '/v2/models/digits/explain', body);
    const before = tf.memory().numTensors;
    const { answer, peak } = await peakOf(tight.explain, '/v2/models/digits/explain', body);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(peak).toBeLessThanOrEqual(BUDGET);
    expect(tf.memory().numTensors).toBe(before);
    const flat = (a: Answer) => a.body.data.explanations.flatMap((e: { heatmap: number[][] }) => e.heatmap.flat());
    const [ours, theirs] = [flat(answer), flat(expected)];
    expect(ours).toHaveLength(theirs.length);
    for (const [i, v] of ours.entries()) expect(v).toBeCloseTo(theirs[i], 5);
  });
});

describe('refused before allocating when not one row fits', () => {
  // 32 digits' rows (98 KB) do not fit either: the old code named the instances that fit as rows
  // ("at most 11 instances fit at once"), and 11 were then refused for the pass.
  it.each([
    ['predict', (a: App) => a.predict, '/v1/models/digits:predict', () => ({ instances: digits.slice(0, 1) })],
    ['explain', (a: App) => a.explain, '/v2/models/digits/explain', () => ({ instances: digits.slice(0, 1), method: 'saliency' })],
    ['predict of 32', (a: App) => a.predict, '/v1/models/digits:predict', () => ({ instances: digits.slice(0, 32) })],
    ['explain of 32', (a: App) => a.explain, '/v2/models/digits/explain', () => ({ instances: digits.slice(0, 32), method: 'saliency' })],
  ])('%s: 413 naming the row cost, the budget and the function size that would do', async (_, handler, path, body) => {
    const before = tf.memory().numTensors;
    const { answer, peak } = await peakOf(handler(tiny), path, body());
    expect(answer.statusCode).toBe(413);
    // Nothing measured yet: the figure is the topology's estimate, an upper bound, and says so.
    expect(answer.body.error).toMatch(
      /one row of a (forward|forward and backward) pass through digits:1 may need up to [\d.]+ [KM]B \(an estimate from its layers: not yet measured\);/,
    );
    expect(answer.body.error).toMatch(/MEMORY_BUDGET_BYTES/);
    // A fixed budget is not moved by the function's size: the setting named is the one that would do (it named a function size).
    const needed = Number(/no request fits; a MEMORY_BUDGET_BYTES of at least (\d+) would run it one (row|call) at a time$/.exec(answer.body.error)?.[1]);
    expect(needed).toBeGreaterThan(36 * 1024);
    expect(tf.memory().numTensors).toBe(before);
    // The estimate from the topology refused it: no row ran.
    expect(peak).toBeLessThan(64 * 1024);
  });
});

describe('natural instances that would encode past the budget', () => {
  const PIXEL = b64(pngBytes(1, 1, () => [200, 100, 50, 255]));
  /** A 224 x 224 x 3 model input: each 1 x 1 PNG (about 70 bytes) becomes 588 KB of it. */
  const ROW_BYTES = 224 * 224 * 3 * 4;
  let big: App;
  let bigDefault: App;
  beforeAll(async () => {
    const store = await tempFolderStore();
    const input = { kind: 'image', width: 224, height: 224, channels: 3 };
    await pushModelFolder(store, await writeImageModel(224, 224, 3), 'wide', { labels: ['a', 'b'], transforms: { input } });
    big = serving(store.uri, { MEMORY_BUDGET_BYTES: String(64 * MB) });
    bigDefault = serving(store.uri, { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048' });
  });

  it('are a 413 before any is decoded, naming the largest number that fits with the forward pass after them; that many are answered, one more is not', async () => {
    // The model loaded first: the count below is the requests' own.
    expect((await call(big.predict, 'POST', '/v1/models/wide:predict', { instances: [PIXEL] })).statusCode).toBe(200);
    const before = tf.memory().numTensors;
    const figures = async (count: number) => {
      const answer = await call(big.predict, 'POST', '/v1/models/wide:predict', { instances: new Array(count).fill(PIXEL) });
      expect(answer.statusCode).toBe(413);
      const match = new RegExp(
        `^instances: ${count} instances make [\\d.]+ MB of model input \\(0\\.6 MB each, shape \\[224,224,3\\]\\), and running the model on them ([\\d.]+) MB more \\(([\\d.]+) MB for a call, 1 KB per instance\\); this function can give 64 MB \\(MEMORY_BUDGET_BYTES\\): at most (\\d+) instances fit at once$`,
      ).exec(answer.body.error);
      expect(match, answer.body.error).not.toBeNull();
      return { call: Number(match?.[2]) * MB, fit: Number(match?.[3]) };
    };
    const { call: callBytes, fit } = await figures(200);
    // The rows (and their 2 outputs) with one call of the model, to the figures' rounding: fewer than
    // the rows alone (111). A fixed budget is not measured, so the promise keeps no margin from it.
    expect(fit).toBeLessThan(Math.floor((64 * MB) / ROW_BYTES));
    expect(Math.abs(fit - (64 * MB - callBytes) / (ROW_BYTES + 8))).toBeLessThan(1);
    expect((await figures(fit + 1)).fit).toBe(fit);
    const served = await call(big.predict, 'POST', '/v1/models/wide:predict', { instances: new Array(fit).fill(PIXEL) });
    expect(served.statusCode, JSON.stringify(served.body).slice(0, 300)).toBe(200);
    expect(served.body.predictions).toHaveLength(fit);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    ['predict', (a: App) => a.predict, '/v1/models/wide:predict', {}],
    ['preprocess', (a: App) => a.predict, '/v2/models/wide/preprocess', {}],
    // (explain takes at most EXPLAIN_MAX_INSTANCES instances)
  ])('%s: 4,000 one-pixel PNGs (a 400 KB body, 2.3 GB of model input) in a 2048 MB function are a 413, not gigabytes allocated', async (_, handler, path, extra) => {
    const rss = process.memoryUsage().rss;
    const answer = await call(handler(bigDefault), 'POST', path, { instances: new Array(4000).fill(PIXEL), ...extra });
    expect(answer.statusCode, JSON.stringify(answer.body).slice(0, 300)).toBe(413);
    expect(answer.body.error).toMatch(/^instances: 4000 instances make 2296\.9 MB of model input .* at most \d+ instances fit at once$/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * MB);
  });
});

describe('a model whose input leaves the image size free ([null, null, 1])', () => {
  it('plans chunks by the cost of rows of the size sent, not of the first size it saw', async () => {
    await initBackend();
    const dir = await mkdtemp(path.join(tmpdir(), 'free-size-'));
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [null, null, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(dir, file), bytes);
    model.dispose();
    const store = await tempFolderStore();
    const manifest = await pushModelFolder(store, dir, 'fcn', { labels: ['a', 'b'] });
    const app = serving(store.uri, { MEMORY_BUDGET_BYTES: String(8 * MB) });
    const infer = (rows: number, side: number) => ({
      inputs: [{ name: manifest.signature.inputs[0].name, shape: [rows, side, side, 1], datatype: 'FP32', data: new Array(rows * side * side).fill(0.5) }],
    });
    // Small rows first (their cost is measured), then one large row (its own cost is measured).
    expect((await call(app.predict, 'POST', '/v2/models/fcn/infer', infer(2, 8))).statusCode).toBe(200);
    expect((await call(app.predict, 'POST', '/v2/models/fcn/infer', infer(1, 200))).statusCode).toBe(200);
    // 8 rows of 200 x 200: a row's activations are 2.6 MB, and as much again for the copy the
    // global average pool transposes them into, so one row a chunk; with the 8 x 8 cost, all 8 in one (22 MB of activations).
    const { answer, peak } = await peakOf(app.predict, '/v2/models/fcn/infer', infer(8, 200));
    expect(answer.statusCode, JSON.stringify(answer.body).slice(0, 300)).toBe(200);
    expect(peak).toBeLessThanOrEqual(8 * MB);
    // Rows of no pixels ([1, 0, 0, 1]) are a 400, not an answer made of whatever memory held (human's handtrack answered 200 with detections).
    const before = tf.memory().numTensors;
    for (const route of ['/v2/models/fcn/infer', '/v2/models/fcn/versions/1/infer']) {
      const empty = await call(app.predict, 'POST', route, infer(1, 0));
      expect(empty, route).toMatchObject({
        statusCode: 400,
        body: { error: `input ${manifest.signature.inputs[0].name}: shape [1,0,0,1] has a dimension of 0, so each row holds no values: send rows of at least one value` },
      });
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('fine-tune within the budget', () => {
  it('a batchSize that does not fit is a 413 naming the largest that does; that one trains', async () => {
    // Inline rows: their count is known when the job is submitted, so the check there is complete.
    const data = { instances: digits, labels: digitLabels, validation: { split: 0.25 } };
    const refused = await call(tight.fineTune, 'POST', '/v2/models/digits/fine-tune', { ...data, config: { epochs: 1, batchSize: 4096 } });
    expect(refused.statusCode).toBe(413);
    // Fewer rows than 4096 (a quarter held out): a call of fit() takes the larger set whole, and is costed so.
    const training = digits.length - Math.round(digits.length / 4);
    expect(refused.body.error).toMatch(
      new RegExp(
        `batchSize 4096 does not fit: a training step of digits:1 takes [\\d.]+ MB at batchSize ${training} \\(the data's ${training} rows: fewer than batchSize 4096\\): [\\d.]+ KB per row and [\\d.]+ KB besides`,
      ),
    );
    const largest = Number(/The largest batchSize that fits is (\d+)/.exec(refused.body.error)?.[1]);
    expect(largest).toBeGreaterThanOrEqual(1);
    expect(largest).toBeLessThan(4096);
    const accepted = await call(tight.fineTune, 'POST', '/v2/models/digits/fine-tune', { ...data, config: { epochs: 1, batchSize: largest } });
    expect(accepted.statusCode, JSON.stringify(accepted.body)).toBe(202);
    const job = await waitForJob(tight, accepted.body.id);
    expect(job.error, refused.body.error).toBeUndefined();
    expect(job.status).toBe('succeeded');
  });
});
