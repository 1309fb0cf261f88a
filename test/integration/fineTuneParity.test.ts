/**
 * A fine-tune writes the weights TF.js's own training gives: the base version loaded with
 * tf.loadLayersModel from the store's folder, compiled with the optimizer and loss the service
 * documents, and fit on the same rows in the same order. The rows are encoded here from the
 * manifest (its features, in its order, standardised only if its transform says so), not with the
 * service's encoder. The service shuffles with its own seeded generator (fit's own uses
 * Math.random), so the reference reproduces that order with the service's epochOrder and splitRows
 * (only the row order is shared, no arithmetic) and fits one epoch at a time with shuffle off.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
// The reference backend for the conv net (registered on demand in the bundles: lib/runtime/backend.ts).
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob } from '../../lib/jobs/index.js';
import { listVersions } from '../../lib/registry/index.js';
import { epochOrder, splitRows } from '../../lib/ops/fineTune/data.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { serving, type App } from '../helpers/serving.js';
import { storeWithTwins } from '../helpers/twins.js';

let app: App;
let store: FolderStore;

interface Rows {
  /** Natural instances, as a client sends them. */
  instances: unknown[];
  labels: (string | number)[];
  /** The model input and the training target of these rows, computed from the manifest. */
  encode(rows: number[]): { x: tf.Tensor2D; y: tf.Tensor2D };
  loss: string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor);
}
const data: Record<string, Rows> = {};

type Manifest = {
  labels?: string[];
  transforms: { input: { features?: { name: string; mean: number; std: number }[]; standardize?: boolean; vocabulary?: string[]; lowercase?: boolean; tokenPattern?: string } };
};
const manifestOf = async (model: string): Promise<Manifest> => JSON.parse(await readFile(`models/${model}/versions/1/manifest.json`, 'utf8'));

/** A CSV's rows as objects, its columns in the order `columns` gives (not the manifest's, which the service has to follow). */
async function csv(file: string, columns: number[]): Promise<{ rows: Record<string, number>[]; last: string[] }> {
  const [header, ...lines] = (await readFile(file, 'utf8')).trim().split('\n');
  const names = header.split(',');
  const cells = lines.map((l) => l.split(','));
  return { rows: cells.map((c) => Object.fromEntries(columns.map((i) => [names[i], Number(c[i])]))), last: cells.map((c) => c[c.length - 1] as string) };
}

/** A tabular model's input: the features in the manifest's order, standardised only if it says so. */
function tabular(manifest: Manifest, rows: Record<string, number>[]): number[][] {
  const { features = [], standardize } = manifest.transforms.input;
  return rows.map((row) => features.map((f) => (standardize ? (row[f.name] - f.mean) / f.std : row[f.name])));
}

beforeAll(async () => {
  // The demo models and their twins whose output activation is another (log_softmax, linear: logits), the same weights.
  store = await storeWithTwins();
  app = serving(store.uri);

  const iris = await manifestOf('iris');
  const irisCsv = await csv('models/_datasets/iris-test.csv', [3, 1, 0, 2]);
  data.iris = {
    instances: irisCsv.rows,
    labels: irisCsv.last,
    loss: 'categoricalCrossentropy',
    encode: (rows) => ({
      x: tf.tensor2d(
        tabular(
          iris,
          rows.map((r) => irisCsv.rows[r]),
        ),
      ),
      y: tf.tensor2d(rows.map((r) => (iris.labels ?? []).map((name) => (irisCsv.last[r] === name ? 1 : 0)))),
    }),
  };

  // Its loss: the negative log-likelihood of the log-probabilities, per row (fit averages).
  data.irislog = { ...(data.iris as Rows), loss: (y, logP) => tf.neg(tf.sum(tf.mul(y, logP), -1)) };
  // Logits: TF.js's own softmax cross-entropy of them (tf.losses, one value per row).
  data.irislogits = { ...(data.iris as Rows), loss: (y, logits) => tf.losses.softmaxCrossEntropy(y, logits, undefined, undefined, tf.Reduction.NONE) };

  const housing = await manifestOf('housing');
  const housingCsv = await csv('models/_datasets/housing-test.csv', [11, 0, 5, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
  const medv = housingCsv.last.map(Number).slice(0, 40);
  data.housing = {
    instances: housingCsv.rows.slice(0, 40),
    labels: medv,
    loss: 'meanSquaredError',
    encode: (rows) => ({
      x: tf.tensor2d(
        tabular(
          housing,
          rows.map((r) => housingCsv.rows[r]),
        ),
      ),
      y: tf.tensor2d(rows.map((r) => [medv[r] as number])),
    }),
  };

  // spam: a binary bag of words over the vocabulary (lowercased, tokens by the manifest's pattern); 'spam', labels[1], is 1.
  const spam = await manifestOf('spam');
  const { vocabulary = [], lowercase, tokenPattern = '' } = spam.transforms.input;
  const lines = (await readFile('models/_datasets/spam-test.jsonl', 'utf8')).trim().split('\n').slice(0, 40);
  const mails = lines.map((l) => JSON.parse(l) as { text: string; label: string });
  const bag = (text: string) => {
    const tokens = new Set((lowercase ? text.toLowerCase() : text).match(new RegExp(tokenPattern, 'g')) ?? []);
    return vocabulary.map((word) => (tokens.has(word) ? 1 : 0));
  };
  data.spam = {
    instances: mails.map((m) => m.text),
    labels: mails.map((m) => m.label),
    loss: 'binaryCrossentropy',
    encode: (rows) => ({ x: tf.tensor2d(rows.map((r) => bag(mails[r].text))), y: tf.tensor2d(rows.map((r) => [mails[r].label === spam.labels?.[1] ? 1 : 0])) }),
  };
  data.spamlogits = { ...(data.spam as Rows), loss: (y, logits) => tf.losses.sigmoidCrossEntropy(y, logits, undefined, undefined, tf.Reduction.NONE) };

  // digits: raw tensor rows (the image decoded and scaled here), so only training is compared.
  const digits = (await readFile('models/_datasets/digits-test.jsonl', 'utf8'))
    .trim()
    .split('\n')
    .slice(0, 24)
    .map((l) => JSON.parse(l) as { image: { b64: string }; label: string });
  const pixels = digits.map((d) => {
    const png = PNG.sync.read(Buffer.from(d.image.b64, 'base64'));
    return Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_c, c) => [(png.data[(r * 28 + c) * 4] as number) / 255]));
  });
  data.digits = {
    instances: pixels,
    labels: digits.map((d) => d.label),
    loss: 'categoricalCrossentropy',
    encode: (rows) => ({
      x: tf.tensor4d(rows.map((r) => pixels[r] as number[][][])) as unknown as tf.Tensor2D,
      y: tf.tensor2d(rows.map((r) => Array.from({ length: 10 }, (_, k) => (digits[r]?.label === String(k) ? 1 : 0)))),
    }),
  };
});

/** `model` version 1 pushed as `name`, its output layer's activation `from` replaced by `to`. */
async function loadFromFolder(model: string, version: number): Promise<tfl.LayersModel> {
  const dir = path.join(fileURLToPath(store.uri), model, 'versions', String(version));
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  const files = json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths);
  const bytes = Buffer.concat(await Promise.all(files.map((f: string) => readFile(path.join(dir, f)))));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights), weightData }),
  );
}

const OPTIMIZERS = { adam: (lr: number) => tf.train.adam(lr), sgd: (lr: number) => tf.train.sgd(lr), rmsprop: (lr: number) => tf.train.rmsprop(lr) };

interface Case {
  model: string;
  optimizer: keyof typeof OPTIMIZERS;
  trainableLayers?: 'all' | { last: number };
  split?: number;
}
type Config = { epochs: number; batchSize: number; learningRate: number; seed: number };

/** TF.js's own fit on the base model: the reference. */
async function reference({ model: name, optimizer, trainableLayers, split }: Case, config: Config, baseVersion = 1) {
  const rows = data[name] as Rows;
  const model = await loadFromFolder(name, baseVersion);
  const all = rows.instances.map((_, i) => i);
  const trainRows = split === undefined ? all : splitRows(all.length, split, config.seed).train;
  const withWeights = model.layers.filter((l) => l.weights.length > 0);
  for (const [i, layer] of withWeights.entries()) layer.trainable = !trainableLayers || trainableLayers === 'all' || i >= withWeights.length - trainableLayers.last;
  model.compile({ optimizer: OPTIMIZERS[optimizer](config.learningRate), loss: rows.loss });
  for (let epoch = 0; epoch < config.epochs; epoch += 1) {
    const { x, y } = rows.encode(epochOrder(trainRows.length, config.seed, epoch).map((i) => trainRows[i] as number));
    await model.fit(x, y, { epochs: 1, batchSize: config.batchSize, shuffle: false, verbose: 0 });
    tf.dispose([x, y]);
  }
  return model;
}

/** Runs the fine-tune job (its worker's time left: `remainingMs`); the version it wrote. */
async function fineTune(c: Case, config: Config, baseVersion = 1, remainingMs?: () => number): Promise<number> {
  return (await fineTuneDone(c, config, baseVersion, remainingMs)).result.version;
}

/** Runs the fine-tune job; its record, once succeeded. */
async function fineTuneDone(c: Case, config: Config, baseVersion = 1, remainingMs?: () => number) {
  const { instances, labels } = data[c.model] as Rows;
  const validation = c.split === undefined ? { instances, labels } : { split: c.split };
  const job = await createJob(
    store,
    'fine-tune',
    { name: c.model, version: baseVersion },
    { instances, labels, validation, config: { ...config, optimizer: c.optimizer, trainableLayers: c.trainableLayers ?? 'all' } },
  );
  await runJob({ store, loader: app.services.loader, limits: app.services.limits }, job.id, { 'fine-tune': fineTuneJob }, undefined, remainingMs);
  const done = JSON.parse(await readFile(path.join(fileURLToPath(store.uri), '_jobs', `${job.id}.json`), 'utf8'));
  expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
  return done as { result: { version: number; history: Record<string, number>[]; stoppedEarly?: string } };
}

const fineTuned = async (c: Case, config: Config) => loadFromFolder(c.model, await fineTune(c, config));

const weightsOf = (m: tfl.LayersModel) => new Map(m.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));

function expectClose(actual: Float32Array | Int32Array | Uint8Array, expected: Float32Array | Int32Array | Uint8Array, what: string, tolerance = 1e-5) {
  expect(actual.length, what).toBe(expected.length);
  const worst = Math.max(...Array.from(actual, (a, i) => Math.abs(a - (expected[i] as number)) / Math.max(1e-3, Math.abs(expected[i] as number))));
  expect(worst, what).toBeLessThan(tolerance);
}

describe('fine-tune answers what TF.js fit answers on the same model, rows, hyperparameters and order', () => {
  // 30 or 40 rows in batches of 8 (iris: the last batch of each epoch is partial, 6 rows).
  const config = { epochs: 3, batchSize: 8, learningRate: 0.01, seed: 7 };
  const cases: [string, Case][] = [
    ['iris, adam, every layer', { model: 'iris', optimizer: 'adam' }],
    ['iris, sgd, every layer', { model: 'iris', optimizer: 'sgd' }],
    ['iris, rmsprop, every layer', { model: 'iris', optimizer: 'rmsprop' }],
    ['iris, adam, head only', { model: 'iris', optimizer: 'adam', trainableLayers: { last: 1 } }],
    ['iris, adam, validation split 0.2', { model: 'iris', optimizer: 'adam', split: 0.2 }],
    // A regression (meanSquaredError) and a binary classifier (binaryCrossentropy, 'spam' the positive class), natural inputs.
    ['housing, adam, every layer', { model: 'housing', optimizer: 'adam' }],
    ['spam, adam, every layer', { model: 'spam', optimizer: 'adam' }],
  ];
  it.each(cases)('%s: every weight and every prediction', async (_, c) => {
    const ours = await fineTuned(c, config);
    const theirs = await reference(c, config);
    const base = await loadFromFolder(c.model, 1);
    try {
      const names = (m: tfl.LayersModel) => m.weights.map((w) => w.originalName);
      expect(names(ours)).toEqual(names(theirs));
      for (const [i, w] of theirs.weights.entries()) expectClose(ours.weights[i]?.read().dataSync() as Float32Array, w.read().dataSync() as Float32Array, w.originalName);
      // Training moved the weights it was asked to, and only those.
      const withWeights = base.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
      const trainedNames = c.trainableLayers === undefined ? withWeights : withWeights.slice(-1);
      // Compared by name: a frozen layer is saved with trainable false, which lists its weights last.
      const byName = weightsOf(ours);
      for (const w of base.weights) {
        const same = Buffer.from((w.read().dataSync() as Float32Array).buffer).equals(Buffer.from((byName.get(w.originalName) as Float32Array).buffer));
        expect(same, w.originalName).toBe(!trainedNames.some((layer) => w.originalName.startsWith(`${layer}/`)));
      }
      const rows = data[c.model] as Rows;
      const { x, y } = rows.encode(rows.instances.map((_r, i) => i));
      const [p, q] = [ours.predict(x) as tf.Tensor, theirs.predict(x) as tf.Tensor];
      expectClose(p.dataSync() as Float32Array, q.dataSync() as Float32Array, 'predictions');
      tf.dispose([x, y, p, q]);
    } finally {
      for (const m of [ours, theirs, base]) m.dispose();
    }
  });

  it('trains every layer of a version a head-only fine-tune wrote (saved with its other layers trainable: false)', async () => {
    const headOnly = await fineTune({ model: 'iris', optimizer: 'adam', trainableLayers: { last: 1 } }, config);
    const c: Case = { model: 'iris', optimizer: 'adam', trainableLayers: 'all' };
    const [base, ours, theirs] = [await loadFromFolder('iris', headOnly), await loadFromFolder('iris', await fineTune(c, config, headOnly)), await reference(c, config, headOnly)];
    try {
      const [before, after, expected] = [base, ours, theirs].map(weightsOf);
      for (const [name, values] of expected) expectClose(after.get(name) as Float32Array, values, name);
      expect(Buffer.from((after.get('hidden/kernel') as Float32Array).buffer).equals(Buffer.from((before.get('hidden/kernel') as Float32Array).buffer))).toBe(false);
    } finally {
      for (const m of [base, ours, theirs]) m.dispose();
    }
  });

  it("a worker out of time stops after the batch it is in, not at the epoch's end, and saves the weights fit gives for that batch", async () => {
    // Time enough when the job starts (the deadline it records, then the check before training),
    // less than saving takes from then on: training ends after its first batch. At the epoch's
    // end, as before, it would have trained 4 batches of the first epoch and run past a Lambda's
    // timeout where one epoch takes longer than the time left.
    const c: Case = { model: 'iris', optimizer: 'sgd' };
    let calls = 0;
    const done = await fineTuneDone(c, config, 1, () => (++calls <= 2 ? 10 * 60_000 : 1000));
    const rows = (data.iris as Rows).instances.length;
    const epochBatches = Math.ceil(rows / config.batchSize);
    expect(done.result.stoppedEarly).toBe('timeBudget');
    expect(done.result.history).toEqual([expect.objectContaining({ epoch: 1, batches: 1, epochBatches })]);
    // TF.js's fit on that first batch alone: the first batchSize rows of the first epoch's order.
    const [ours, base] = [await loadFromFolder('iris', done.result.version), await loadFromFolder('iris', 1)];
    const theirs = await loadFromFolder('iris', 1);
    try {
      theirs.compile({ optimizer: OPTIMIZERS.sgd(config.learningRate), loss: (data.iris as Rows).loss });
      const { x, y } = (data.iris as Rows).encode(epochOrder(rows, config.seed, 0).slice(0, config.batchSize));
      await theirs.fit(x, y, { epochs: 1, batchSize: config.batchSize, shuffle: false, verbose: 0 });
      tf.dispose([x, y]);
      const [after, before] = [weightsOf(ours), weightsOf(base)];
      for (const [name, values] of weightsOf(theirs)) {
        expectClose(after.get(name) as Float32Array, values, name);
        expect(Buffer.from((after.get(name) as Float32Array).buffer).equals(Buffer.from((before.get(name) as Float32Array).buffer)), name).toBe(false);
      }
    } finally {
      for (const m of [ours, base, theirs]) m.dispose();
    }
  });

  it('a worker with less time left than saving takes fails the job with the figures, writing no version', async () => {
    const versions = async () => (await listVersions(store, 'iris')).length;
    const before = await versions();
    const { instances, labels } = data.iris as Rows;
    const job = await createJob(
      store,
      'fine-tune',
      { name: 'iris', version: 1 },
      { instances, labels, validation: { instances, labels }, config: { ...config, optimizer: 'sgd' } },
    );
    await runJob({ store, loader: app.services.loader, limits: app.services.limits }, job.id, { 'fine-tune': fineTuneJob }, undefined, () => 1000);
    const failed = JSON.parse(await readFile(path.join(fileURLToPath(store.uri), '_jobs', `${job.id}.json`), 'utf8'));
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(
      /^the worker has 1 s left, less than saving a version takes \(60 s: a minute and the validation passes still to come, 0 s each over 30 rows\): hold out fewer rows/,
    );
    expect(await versions()).toBe(before);
  });

  it('digits conv net, adam, every layer: every weight as TF.js fit on the cpu backend (its reference kernels) gives', async () => {
    const c: Case = { model: 'digits', optimizer: 'adam' };
    const digitsConfig = { epochs: 2, batchSize: 8, learningRate: 0.001, seed: 3 };
    const digitsRows = (data.digits as Rows).instances.map((_, i) => i);
    const ours = await fineTuned(c, digitsConfig);
    const backend = tf.getBackend();
    await tf.setBackend('cpu');
    try {
      const theirs = await reference(c, digitsConfig);
      // Across backends the sums run in another order: measured 1.5e-5 at most (probabilities/kernel).
      const after = weightsOf(ours);
      for (const [name, values] of weightsOf(theirs)) expectClose(after.get(name) as Float32Array, values, name, 1e-4);
      const { x } = (data.digits as Rows).encode(digitsRows);
      const [p, q] = [ours.predict(x) as tf.Tensor, theirs.predict(x) as tf.Tensor];
      expectClose(p.dataSync() as Float32Array, q.dataSync() as Float32Array, 'predictions', 1e-4);
      tf.dispose([x, p, q]);
      theirs.dispose();
    } finally {
      await tf.setBackend(backend);
      ours.dispose();
    }
  });

  // The last: whether the weights must equal the twin's. Not spam's: its sigmoid twin's binaryCrossentropy clips
  // probabilities to [1e-7, 1 - 1e-7], so on rows it is sure of it stops learning where the logit's loss does not (0.14 apart).
  const twins: [string, string, string, (out: tf.Tensor) => tf.Tensor, boolean][] = [
    ['irislog', 'iris', 'log_softmax: the negative log-likelihood', tf.exp, true],
    ['irislogits', 'iris', 'linear (logits): their softmax cross-entropy', (z) => tf.softmax(z), true],
    ['spamlogits', 'spam', 'linear (a logit, one unit): its sigmoid cross-entropy', tf.sigmoid, false],
  ];
  it.each(twins)('%s (twin of %s), its output %s: as TF.js fit with that loss, and as its twin', async (name, twinOf, _loss, probabilitiesOf, likeTwin) => {
    const c: Case = { model: name, optimizer: 'adam' };
    const version = await fineTune(c, config);
    const [twin, original, theirs] = [await loadFromFolder(name, version), await fineTuned({ model: twinOf, optimizer: 'adam' }, config), await reference(c, config)];
    try {
      // fit's accuracy reads the output as its twin's would (one logit: positive from 0, not 0.5), as the
      // version's metrics do: on the same rows (validation is the training data here) with the last weights.
      const { training, metrics } = JSON.parse(await readFile(path.join(fileURLToPath(store.uri), name, 'versions', String(version), 'manifest.json'), 'utf8'));
      expect(training.history.at(-1).val_acc).toBeCloseTo(metrics.accuracy, 6);
      const [ours, twinExpected, expected] = [twin, original, theirs].map(weightsOf);
      for (const [weight, values] of expected) expectClose(ours.get(weight) as Float32Array, values, weight);
      // The twin's cross-entropy is the same loss computed another way (normalized and clipped): measured 2.5e-4
      // (log_softmax) and 2.2e-3 (logits) at most, against 7.4 when the loss read log-probabilities as probabilities.
      if (likeTwin) for (const [weight, values] of twinExpected) expectClose(ours.get(weight) as Float32Array, values, weight, 1e-2);
      const rows = data[twinOf] as Rows;
      const { x, y } = rows.encode(rows.instances.map((_r, i) => i));
      const [out, p] = [twin.predict(x) as tf.Tensor, original.predict(x) as tf.Tensor];
      const probabilities = probabilitiesOf(out);
      if (likeTwin) expectClose(probabilities.dataSync() as Float32Array, p.dataSync() as Float32Array, 'predictions', 1e-3);
      tf.dispose([x, y, out, p, probabilities]);
    } finally {
      for (const m of [twin, original, theirs]) m.dispose();
    }
  });
});
