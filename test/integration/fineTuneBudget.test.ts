/**
 * The fine-tune memory budget (lib/ops/fineTune/budget.ts, stepCost.ts): the largest batchSize a
 * 413 names is accepted and its job's tensors peak within the budget, one more is refused, and one
 * more would indeed not have fit (the figure is not conservative by a factor); a batch whose
 * optimizer update alone outgrows the budget is refused, not accepted to peak past it.
 */
import { cp, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import { peakBytesOf } from '../helpers/peakBytes.js';
import { call, serving, waitForJob, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const MB = 2 ** 20;
let store: Awaited<ReturnType<typeof tempFolderStore>>;
let uri: string;

/** A dense model whose weights (1 MB, 18 MB of Adam's update) outweigh its rows (about 30 KB each in a step). */
async function pushWideModel(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'wide-'));
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [8], units: 512, activation: 'relu' }),
      tfl.layers.dense({ units: 512, activation: 'relu' }),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  const weightBytes = model.countParams() * 4;
  for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(dir, file), bytes);
  model.dispose();
  await pushModelFolder(store, dir, 'wide', { labels: ['a', 'b', 'c'] });
  return weightBytes;
}

beforeAll(async () => {
  await initBackend();
  store = await tempFolderStore();
  uri = store.uri;
  await cp('models', fileURLToPath(store.uri), { recursive: true });
});

/** The 413's named largest batchSize for `body` (asked with batchSize 4096). */
async function namedLargest(app: App, model: string, body: object): Promise<{ largest: number; error: string }> {
  const refused = await call(app.fineTune, 'POST', `/v2/models/${model}/fine-tune`, { ...body, config: { epochs: 1, batchSize: 4096 } });
  expect(refused.statusCode, JSON.stringify(refused.body)).toBe(413);
  const error = String(refused.body.error);
  return { largest: Number(/The largest batchSize that fits is (\d+)/.exec(error)?.[1]), error };
}

/** Submits a one-epoch fine-tune and waits for it: its answer, its job and the tensor bytes it peaked at. */
async function fineTunePeak(app: App, model: string, body: object, batchSize: number) {
  const { result, peak } = await peakBytesOf(async () => {
    const accepted = await call(app.fineTune, 'POST', `/v2/models/${model}/fine-tune`, { ...body, config: { epochs: 1, batchSize } });
    const job = accepted.statusCode === 202 ? await waitForJob(app, accepted.body.id) : undefined;
    return { accepted, job };
  });
  return { ...result, peak };
}

/** Checks the largest named for `budget`: accepted and within it (the job's copy of the weights aside: a fixed budget does not subtract them), one more refused, and one more would peak past it. */
async function checkLargest(model: string, body: object, budget: number, weightBytes: number, trainRows: number) {
  const tight = serving(uri, { MEMORY_BUDGET_BYTES: String(budget) });
  const free = serving(uri);
  const { largest, error } = await namedLargest(tight, model, body);
  expect(largest, error).toBeGreaterThanOrEqual(1);
  // Two full batches: the second step is the costliest (the optimizer's slots are alive in it).
  expect(2 * (largest + 1), 'the data has rows for two batches of one more than the largest').toBeLessThanOrEqual(trainRows);
  const fits = await fineTunePeak(tight, model, body, largest);
  expect(fits.accepted.statusCode, JSON.stringify(fits.accepted.body)).toBe(202);
  expect(fits.job?.status, JSON.stringify(fits.job?.error)).toBe('succeeded');
  expect(fits.peak - weightBytes, `batchSize ${largest} peaked at ${fits.peak} bytes`).toBeLessThanOrEqual(budget);
  const oneMore = await call(tight.fineTune, 'POST', `/v2/models/${model}/fine-tune`, { ...body, config: { epochs: 1, batchSize: largest + 1 } });
  expect(oneMore.statusCode).toBe(413);
  // Without the budget, one row more does peak past it: the figure is the real largest, not a fraction of it.
  const past = await fineTunePeak(free, model, body, largest + 1);
  expect(past.job?.status).toBe('succeeded');
  expect(past.peak - weightBytes, `batchSize ${largest + 1} peaked at ${past.peak} bytes`).toBeGreaterThan(budget);
  return largest;
}

describe('the largest batchSize a fine-tune 413 names', () => {
  it('digits (a conv net, mostly cost per row): accepted and within the budget; one more is refused and would not fit', async () => {
    const lines = (await readFile('models/_datasets/digits-test.jsonl', 'utf8')).trim().split('\n').slice(0, 40);
    const rows = lines.map((l) => JSON.parse(l));
    const body = { instances: rows.map((r) => r.image), labels: rows.map((r) => r.label), validation: { split: 0.25 } };
    const weightBytes = (await stat('models/digits/versions/1/weights.bin')).size;
    await checkLargest('digits', body, 3 * MB, weightBytes, 30);
  });

  it('a model whose weights outweigh its rows: the figure counts the update once, not in every row', async () => {
    const weightBytes = await pushWideModel();
    const n = 1700;
    const body = {
      instances: Array.from({ length: n }, (_, i) => Array.from({ length: 8 }, (_, j) => ((i * 7 + j) % 13) / 13)),
      labels: Array.from({ length: n }, (_, i) => ['a', 'b', 'c'][i % 3]),
      validation: { split: 0.1 },
    };
    const largest = await checkLargest('wide', body, 24 * MB, weightBytes, 1530);
    // The old arithmetic took a one-row step (mostly the 1 MB of gradients) as the cost of every row: about 15.
    expect(largest).toBeGreaterThan(200);
  });

  it('a batch whose optimizer update alone outgrows the budget is a 413, not a job that peaks past it', async () => {
    await pushWideModel();
    const tight = serving(uri, { MEMORY_BUDGET_BYTES: String(12 * MB) });
    const body = { instances: Array.from({ length: 40 }, () => new Array(8).fill(0.5)), labels: Array.from({ length: 40 }, () => 'a'), validation: { split: 0.25 } };
    const refused = await call(tight.fineTune, 'POST', '/v2/models/wide/fine-tune', { ...body, config: { epochs: 1, batchSize: 4 } });
    expect(refused.statusCode, JSON.stringify(refused.body)).toBe(413);
    expect(refused.body.error).toMatch(/no fine-tune of this size fits: a training step of wide:\d+ takes [\d.]+ MB at batchSize 1: [\d.]+ KB per row and [\d.]+ MB besides/);
  });
});

describe('a batchSize larger than the data', () => {
  it('trains in steps of the rows there are, so it is costed at them: accepted where those rows fit (it was refused at batchSize 32), inline or as a data set', async () => {
    const tight = serving(uri, { MEMORY_BUDGET_BYTES: String(3 * MB) });
    const lines = (await readFile('models/_datasets/digits-test.jsonl', 'utf8')).trim().split('\n');
    const rows = lines.slice(0, 40).map((l) => JSON.parse(l));
    const { largest } = await namedLargest(tight, 'digits', { instances: rows.map((r) => r.image), labels: rows.map((r) => r.label), validation: { split: 0.25 } });
    expect(largest).toBeLessThan(32);
    const few = rows.slice(0, Math.max(2, largest));
    const inline = { instances: few.map((r) => r.image), labels: few.map((r) => r.label), validation: { split: 0.5 }, config: { epochs: 1 } };
    const accepted = await call(tight.fineTune, 'POST', '/v2/models/digits/fine-tune', inline);
    expect(accepted.statusCode, JSON.stringify(accepted.body)).toBe(202);
    expect((await waitForJob(tight, accepted.body.id)).status).toBe('succeeded');
    // The same rows as a data set in the store, counted when the batch size does not fit; 40 rows are refused as before.
    await writeFile(path.join(fileURLToPath(uri), '_datasets/few-digits.jsonl'), `${lines.slice(0, few.length).join('\n')}\n`);
    await writeFile(path.join(fileURLToPath(uri), '_datasets/forty-digits.jsonl'), `${lines.slice(0, 40).join('\n')}\n`);
    const fromSet = (dataset: string) => call(tight.fineTune, 'POST', '/v2/models/digits/fine-tune', { dataset, validation: { split: 0.5 }, config: { epochs: 1 } });
    const small = await fromSet('_datasets/few-digits.jsonl');
    expect(small.statusCode, JSON.stringify(small.body)).toBe(202);
    expect((await waitForJob(tight, small.body.id)).status).toBe('succeeded');
    const large = await fromSet('_datasets/forty-digits.jsonl');
    expect(large.statusCode).toBe(413);
    expect(large.body.error).toMatch(/^batchSize 32 does not fit: a training step of digits:1 takes [\d.]+ MB at batchSize 32:/);
    // fit() runs its validation pass in batches of batchSize too: few training rows beside many validation rows are costed at the batch.
    const manyToValidate = await call(tight.fineTune, 'POST', '/v2/models/digits/fine-tune', {
      instances: inline.instances,
      labels: inline.labels,
      validation: { instances: rows.map((r) => r.image), labels: rows.map((r) => r.label) },
      config: { epochs: 1 },
    });
    expect(manyToValidate.statusCode).toBe(413);
  });
});
