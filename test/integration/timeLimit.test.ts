/**
 * A predict, an explanation or a synchronous evaluation that cannot end before its function's timeout ends
 * early with a 413 naming the figures (runtime/timeLimit.ts), instead of running into the timeout
 * (a 504 behind API Gateway, and a cold start for the next request). The time left comes from the
 * Lambda context, as API Gateway's invocations carry it; each test's context says how much is left.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { saveLayersFolder } from '../helpers/layersFolder.js';
import { serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const demoStore = pathToFileURL(path.join(repo, 'models')).href;
const allDigits = readFileSync(path.join(repo, 'models/_datasets/digits-test.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => (JSON.parse(line) as { image: unknown }).image);
const digits = allDigits.slice(0, 8);

/** A context whose function times out `ms` from now. */
function contextWith(ms: number) {
  const deadline = Date.now() + ms;
  return { awsRequestId: 'time-limit-test', getRemainingTimeInMillis: () => deadline - Date.now() };
}

async function explain(app: App, body: unknown, timeLeftMs: number, handler: 'explain' | 'evaluate' = 'explain') {
  const started = performance.now();
  const result = await app[handler]({ method: 'POST', path: `/v2/models/digits/${handler}`, body }, contextWith(timeLeftMs));
  return { status: result.statusCode, body: result.body as { error?: string; explanations?: unknown }, ms: performance.now() - started };
}

// 8 digits x 1024 steps: 8,192 rows of a forward and backward pass, about 1.5 s here (2 shared cores);
// the contexts below leave 0.1-0.15 s after the 2 s kept to answer.
const heavy = { method: 'integratedGradients', steps: 1024, instances: digits };

describe('explain under a time limit', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('work that cannot end before the timeout is a 413 naming the figures, answered well before it, with no tensor left', async () => {
    const app = serving(demoStore);
    // Warm: the model loaded and its costs measured, so the tensors counted are the weights only.
    expect((await explain(app, { method: 'integratedGradients', steps: 4, instances: digits.slice(0, 1) }, 600_000)).status).toBe(200);
    const tensors = tf.memory().numTensors;
    // The 0.1 s left may be spent before the gradient pass (a collection as the request starts, the
    // forward pass for the targets, on a busy machine): that forward pass is then the one refused.
    const answer = await explain(app, heavy, 2_100);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatch(
      /^a forward (and backward )?pass through digits:1: (8192|8) rows, of which (the first (was timed alone|\d+ were timed in one call), and the next )?\d+ took [\d.]+ s \([\d.]+ ms each\); the other \d+ would take about [\d.]+ s, and this function has [\d.]+ s left before its timeout/,
    );
    // The remedy is the route's: fewer of what an explanation is made of, or modelctl explain.
    expect(answer.body.error).toMatch(
      /About [\d.]+% of this pass fits \(\d+ of its (8192|8) rows\): ask for less \(fewer steps, samples or instances\), or run it where no request timeout applies \(modelctl explain\)$/,
    );
    expect(answer.ms).toBeLessThan(2_100);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 60_000);

  it('the same when all rows fit one chunk of memory: the first chunk is cut so that a check comes in time', async () => {
    // A fresh process's first pass: one row profiled, then (MAX_BATCH 8192) one chunk would hold every other row.
    const app = serving(demoStore, { MAX_BATCH: '8192' });
    const answer = await explain(app, heavy, 2_150);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatch(/left before its timeout/);
    expect(answer.ms).toBeLessThan(2_150);
  }, 60_000);

  it('after a one-row pass measured the model, the first chunk of a larger one is still cut in time', async () => {
    const app = serving(demoStore, { MAX_BATCH: '8192' });
    // Saliency of one instance: one row of a forward and backward pass, profiled, and no chunk after it.
    expect((await explain(app, { method: 'saliency', instances: digits.slice(0, 1) }, 600_000)).status).toBe(200);
    const answer = await explain(app, heavy, 1_500);
    expect(answer.status).toBe(413);
    expect(answer.ms).toBeLessThan(1_500);
  }, 60_000);

  it('kernelShap is timed per instance, its coalitions drawn and regressions solved outside the chunks included: a 413 for the request, before the timeout', async () => {
    const app = serving(demoStore);
    // 196 two-pixel patches and 65,536 coalitions an instance: drawing them alone takes about half a second each here.
    // Each instance's are drawn when it is explained (kernelShapMemory.test.ts), so the first one's pass may be what is refused.
    const body = { method: 'kernelShap', instances: digits, patchSize: 2, nSamples: 65536, background: [digits[7]] };
    const answer = await explain(app, body, 3_000);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatch(
      /^(kernelShap: 8 instances, of which \d+ took [\d.]+ s \([\d.]+ ms each\); .* About [\d.]+% of this request fits|a forward pass through digits:1: 65537 rows, of which (the first (was timed alone|\d+ were timed in one call), and the next )?\d+ took .* About [\d.]+% of this pass fits)/,
    );
    expect(answer.ms).toBeLessThan(3_000);
  }, 60_000);

  it('work that fits the time left runs as before', async () => {
    const app = serving(demoStore);
    const body = { method: 'integratedGradients', steps: 16, instances: digits.slice(0, 2) };
    const limited = await explain(app, body, 20_000);
    const unlimited = await app.explain({ method: 'POST', path: '/v2/models/digits/explain', body });
    expect(limited.status).toBe(200);
    expect(unlimited.statusCode).toBe(200);
    expect(limited.body.explanations).toEqual((unlimited.body as { explanations: unknown }).explanations);
  }, 60_000);
});

describe('synchronous evaluate under a time limit', () => {
  it('a data set that cannot be evaluated before the timeout is a 413 saying to run it as a job, before its next chunk would pass the timeout', async () => {
    // 2,000 digits in chunks of 100, and no time left after the 2 s kept to answer: the first chunk is all that runs
    // (the whole set takes 0.3-0.8 s here, so any more time left would depend on this machine's speed).
    const app = serving(demoStore, { MAX_BATCH: '100' });
    // Warm: the model loaded, so the tensors counted are its weights only.
    expect((await explain(app, { instances: digits.slice(0, 2), labels: ['0', '1'] }, 600_000, 'evaluate')).status).toBe(200);
    const tensors = tf.memory().numTensors;
    const answer = await explain(app, { dataset: '_datasets/digits-test.jsonl' }, 2_000, 'evaluate');
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatch(
      /^evaluate: \d+ rows evaluated in [\d.]+ s, and more to come; the next chunk would take about [\d.]+ s, and this function has [\d.]+ s left before its timeout .*evaluations\?async=true/,
    );
    expect(answer.ms).toBeLessThan(2_000);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 60_000);

  it('one that can is answered as before', async () => {
    const app = serving(demoStore);
    const body = { dataset: '_datasets/digits-test.jsonl' };
    const limited = await explain(app, body, 60_000, 'evaluate');
    expect(limited.status).toBe(200);
    expect((limited.body as unknown as { count: number }).count).toBe(2000);
  }, 60_000);
});

describe('predict under a time limit', () => {
  type Predicted = { status: number; body: { error?: string; predictions?: unknown; outputs?: unknown }; ms: number };
  async function predict(app: App, route: 'predict' | 'infer', body: unknown, timeLeftMs?: number): Promise<Predicted> {
    const started = performance.now();
    const path = route === 'predict' ? '/v1/models/digits:predict' : '/v2/models/digits/infer';
    const result = await app.predict({ method: 'POST', path, body }, timeLeftMs === undefined ? undefined : contextWith(timeLeftMs));
    return { status: result.statusCode, body: result.body as Predicted['body'], ms: performance.now() - started };
  }

  // No time left after the 2 s kept to answer: whatever this machine's speed, the first check refuses,
  // and the request ends well before the timeout.
  it('images whose decoding cannot end before the timeout are a 413 naming the figures, decoding included, with no tensor left', async () => {
    const app = serving(demoStore);
    expect((await predict(app, 'predict', { instances: digits.slice(0, 2) })).status).toBe(200);
    const tensors = tf.memory().numTensors;
    const answer = await predict(app, 'predict', { instances: allDigits }, 2_000);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatch(
      /^encoding the instances for digits:1: 2000 instances, of which (\d+) took [\d.]+ s \([\d.]+ ms each\); the other (\d+) would take about [\d.]+ s, and this function has 0\.0 s left before its timeout \(with 2\.0 s kept to answer\)\. About [\d.]+% of the encoding \(the model runs on them after it\) fits \(\d+ of its 2000 instances\)/,
    );
    // Predict's remedy: fewer instances, or batch scoring (it offered steps and samples, and modelctl, which has no predict).
    expect(answer.body.error).toMatch(
      /: ask for less \(fewer instances\), or run it where no request timeout applies \(batch scoring: an upload under batch\/input\/\{model\}\/, or modelctl batch\)$/,
    );
    expect(answer.ms).toBeLessThan(2_000);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 60_000);

  it('rows the model cannot run before the timeout are a 413 naming the figures, after one chunk, with no tensor left', async () => {
    // Raw rows (what the model receives for 400 digits), so the model's forward pass is all there is to time; chunks of 50.
    const app = serving(demoStore, { MAX_BATCH: '50' });
    const pre = await app.predict({ method: 'POST', path: '/v2/models/digits/preprocess', body: { instances: allDigits.slice(0, 400) } });
    const inputs = (pre.body as { outputs: { name: string; shape: number[]; datatype: string; data: number[] }[] }).outputs;
    const body = { inputs };
    const tensors = tf.memory().numTensors;
    const answer = await predict(app, 'infer', body, 2_000);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatch(
      /^a forward pass through digits:1: 400 rows, of which (the first (was timed alone|\d+ were timed in one call), and the next )?\d+ took [\d.]+ s \([\d.]+ ms each\); the other \d+ would take about [\d.]+ s, and this function has 0\.0 s left before its timeout .* About [\d.]+% of this pass fits \(\d+ of its 400 rows\)/,
    );
    expect(answer.ms).toBeLessThan(2_000);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 60_000);

  it('one image larger than any timed through the model is a 413 before it runs when, scaled from a smaller one, it cannot end in time', async () => {
    // An image model of any size, as MAXIM's upscalers are: one 512 x 512 image after a 256 x 256 one ran into the timeout.
    await initBackend();
    const dir = await mkdtemp(path.join(tmpdir(), 'any-size-'));
    const model = tfl.sequential({
      layers: [tfl.layers.conv2d({ inputShape: [null, null, 3], filters: 8, kernelSize: 3, padding: 'same' }), tfl.layers.conv2d({ filters: 3, kernelSize: 1 })],
    });
    await saveLayersFolder(model, dir);
    model.dispose();
    const store = await tempFolderStore();
    await pushModelFolder(store, dir, 'anysize', { task: 'regression' });
    const app = serving(store.uri);
    const image = (side: number) => ({ instances: [Array.from({ length: side }, () => Array.from({ length: side }, () => [0.5, 0.5, 0.5]))] });
    const infer = (side: number, timeLeftMs?: number) =>
      app.predict({ method: 'POST', path: '/v1/models/anysize:predict', body: image(side) }, timeLeftMs === undefined ? undefined : contextWith(timeLeftMs));
    expect((await infer(128)).statusCode).toBe(200);
    const tensors = tf.memory().numTensors;
    const started = performance.now();
    const refused = await infer(512, 2_000);
    expect(refused.statusCode).toBe(413);
    expect((refused.body as { error: string }).error).toMatch(
      /^a forward pass through anysize:1: one row would take about [\d.]+ s \(a row of 128 x 128 x 3 took [\d.]+ s, and this one of 512 x 512 x 3 holds 16\.0 times its values\), and this function has 0\.0 s left before its timeout/,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(tf.memory().numTensors).toBe(tensors);
    // With the time it needs, the same image is answered.
    expect((await infer(512, 600_000)).statusCode).toBe(200);
  }, 60_000);

  it('a request that fits the time left is answered as without a limit', async () => {
    const app = serving(demoStore, { MAX_BATCH: '50' });
    const body = { instances: allDigits.slice(0, 400) };
    const unlimited = await predict(app, 'predict', body);
    const limited = await predict(app, 'predict', body, 600_000);
    expect(unlimited.status).toBe(200);
    expect(limited.status).toBe(200);
    expect(limited.body).toEqual(unlimited.body);
    expect((limited.body.predictions as unknown[]).length).toBe(400);
  }, 60_000);
});
