/**
 * A fine-tune writes the weights TF.js's own training gives: the base version loaded with
 * tf.loadLayersModel from the store's folder, compiled with the optimizer and loss the service
 * documents, and fit on the same rows in the same order. The rows are encoded here from the
 * manifest (its features, in its order, standardised only if its transform says so), not with the
 * service's encoder. The service shuffles with its own seeded generator (fit's own uses
 * Math.random), so the reference reproduces that order with the service's epochOrder and splitRows
 * (only the row order is shared, no arithmetic) and fits one epoch at a time with shuffle off.
 */
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob } from '../../lib/jobs/index.js';
import { epochOrder, splitRows } from '../../lib/ops/fineTune/data.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let store: FolderStore;
let instances: Record<string, number>[];
let labels: string[];
let manifest: { labels: string[]; transforms: { input: { features: { name: string; mean: number; std: number }[]; standardize: boolean } } };

beforeAll(async () => {
  store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  app = serving(store.uri);
  manifest = JSON.parse(await readFile('models/iris/versions/1/manifest.json', 'utf8'));
  const [header, ...lines] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
  const names = header.split(',');
  const cells = lines.map((l) => l.split(','));
  // Columns shuffled relative to the manifest's order, so that order has to be followed.
  instances = cells.map((c) => Object.fromEntries([3, 1, 0, 2].map((i) => [names[i], Number(c[i])])));
  labels = cells.map((c) => c[4] as string);
});

/** The rows as the manifest says the model takes them. */
function encoded(rows: number[]): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const { features, standardize } = manifest.transforms.input;
  const x = rows.map((r) => features.map((f) => (standardize ? (instances[r][f.name] - f.mean) / f.std : instances[r][f.name])));
  const y = rows.map((r) => manifest.labels.map((name) => (labels[r] === name ? 1 : 0)));
  return { x: tf.tensor2d(x), y: tf.tensor2d(y) };
}

async function loadFromFolder(version: number): Promise<tfl.LayersModel> {
  const dir = path.join(fileURLToPath(store.uri), 'iris', 'versions', String(version));
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
  optimizer: keyof typeof OPTIMIZERS;
  trainableLayers?: 'all' | { last: number };
  split?: number;
}

/** TF.js's own fit on the base model: the reference. */
async function reference({ optimizer, trainableLayers, split }: Case, config: { epochs: number; batchSize: number; learningRate: number; seed: number }) {
  const model = await loadFromFolder(1);
  const all = instances.map((_, i) => i);
  const trainRows = split === undefined ? all : splitRows(all.length, split, config.seed).train;
  if (trainableLayers && trainableLayers !== 'all') {
    const withWeights = model.layers.filter((l) => l.weights.length > 0);
    for (const layer of withWeights.slice(0, -trainableLayers.last)) layer.trainable = false;
  }
  model.compile({ optimizer: OPTIMIZERS[optimizer](config.learningRate), loss: 'categoricalCrossentropy' });
  for (let epoch = 0; epoch < config.epochs; epoch += 1) {
    const { x, y } = encoded(epochOrder(trainRows.length, config.seed, epoch).map((i) => trainRows[i] as number));
    await model.fit(x, y, { epochs: 1, batchSize: config.batchSize, shuffle: false, verbose: 0 });
    tf.dispose([x, y]);
  }
  return model;
}

async function fineTuned(c: Case, config: { epochs: number; batchSize: number; learningRate: number; seed: number }): Promise<tfl.LayersModel> {
  const validation = c.split === undefined ? { instances, labels } : { split: c.split };
  const job = await createJob(
    store,
    'fine-tune',
    { name: 'iris', version: 1 },
    { instances, labels, validation, config: { ...config, optimizer: c.optimizer, trainableLayers: c.trainableLayers ?? 'all' } },
  );
  await runJob({ store, loader: app.services.loader, limits: app.services.limits }, job.id, { 'fine-tune': fineTuneJob });
  const done = JSON.parse(await readFile(path.join(fileURLToPath(store.uri), '_jobs', `${job.id}.json`), 'utf8'));
  expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
  return loadFromFolder(done.result.version);
}

function expectClose(actual: Float32Array | Int32Array | Uint8Array, expected: Float32Array | Int32Array | Uint8Array, what: string) {
  expect(actual.length, what).toBe(expected.length);
  const worst = Math.max(...Array.from(actual, (a, i) => Math.abs(a - (expected[i] as number)) / Math.max(1e-3, Math.abs(expected[i] as number))));
  expect(worst, what).toBeLessThan(1e-5);
}

describe('fine-tune answers what TF.js fit answers on the same model, rows, hyperparameters and order', () => {
  // 30 rows in batches of 8: the last batch of each epoch is partial (6 rows).
  const config = { epochs: 3, batchSize: 8, learningRate: 0.01, seed: 7 };
  const cases: [string, Case][] = [
    ['adam, every layer', { optimizer: 'adam' }],
    ['sgd, every layer', { optimizer: 'sgd' }],
    ['rmsprop, every layer', { optimizer: 'rmsprop' }],
    ['adam, head only', { optimizer: 'adam', trainableLayers: { last: 1 } }],
    ['adam, validation split 0.2', { optimizer: 'adam', split: 0.2 }],
  ];
  it.each(cases)('%s: every weight and every prediction', async (_, c) => {
    const ours = await fineTuned(c, config);
    const theirs = await reference(c, config);
    const base = await loadFromFolder(1);
    try {
      const names = (m: tfl.LayersModel) => m.weights.map((w) => w.originalName);
      expect(names(ours)).toEqual(names(theirs));
      for (const [i, w] of theirs.weights.entries()) expectClose(ours.weights[i]?.read().dataSync() as Float32Array, w.read().dataSync() as Float32Array, w.originalName);
      // Training moved the weights it was asked to, and only those.
      const trainedNames = c.trainableLayers === undefined ? ['hidden', 'probabilities'] : ['probabilities'];
      // Compared by name: a frozen layer is saved with trainable false, which lists its weights last.
      const byName = new Map(ours.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
      for (const w of base.weights) {
        const same = Buffer.from((w.read().dataSync() as Float32Array).buffer).equals(Buffer.from((byName.get(w.originalName) as Float32Array).buffer));
        expect(same, w.originalName).toBe(!trainedNames.some((layer) => w.originalName.startsWith(`${layer}/`)));
      }
      const { x } = encoded(instances.map((_r, i) => i));
      const [p, q] = [ours.predict(x) as tf.Tensor, theirs.predict(x) as tf.Tensor];
      expectClose(p.dataSync() as Float32Array, q.dataSync() as Float32Array, 'predictions');
      tf.dispose([x, p, q]);
    } finally {
      for (const m of [ours, theirs, base]) m.dispose();
    }
  });
});
