/**
 * A binary model whose one unit holds log P(positive) (a log-sigmoid head, pushed with --scores
 * log-probabilities) fine-tunes as its sigmoid twin does under TF.js's own fit. The head here is
 * z' = -(x W + b) -> softplus -> times -1 (a frozen unit), which is log sigmoid(x W + b); the twin
 * is Dense(1, sigmoid) with W and b. Its gradients are the twin's negated, and Adam's step is odd in
 * the gradient, so the trained layer must hold the twin's trained weights negated. Before, the loss
 * was binaryCrossentropy of the log-probability itself, clipped to its epsilon: nothing trained.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob } from '../../lib/jobs/index.js';
import { epochOrder } from '../../lib/ops/fineTune/data.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { call, serving, type App } from '../helpers/serving.js';
import { loadLayersFolder, PAIR_LABELS, PAIRS, saveLayersFolder } from '../helpers/layersFolder.js';
import { tempFolderStore } from '../helpers/stores.js';

let store: FolderStore;
let app: App;

const instances = PAIRS;
const labels = PAIR_LABELS;
const config = { epochs: 4, batchSize: 16, learningRate: 0.05, seed: 5, optimizer: 'adam' as const };
const W = [[0.3], [-0.2]];
const B = [0.05];

beforeAll(async () => {
  await tf.setBackend('cpu');
  const folder = await mkdtemp(path.join(tmpdir(), 'log-sigmoid-binary-'));
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [2], units: 1, name: 'negated' }),
      tfl.layers.activation({ activation: 'softplus' }),
      tfl.layers.dense({ units: 1, useBias: false, name: 'flip' }),
    ],
  });
  model.setWeights([tf.neg(tf.tensor2d(W)), tf.neg(tf.tensor1d(B)), tf.tensor2d([[-1]])]);
  await saveLayersFolder(model, folder);
  model.dispose();
  store = await tempFolderStore();
  await pushModelFolder(store, folder, 'logsig', { task: 'binary', labels: ['no', 'yes'], scores: 'log-probabilities' });
  app = serving(store.uri);
});

describe('a binary model whose one unit holds a log-probability', () => {
  it('answers exp of it, and fine-tunes as its sigmoid twin under TF.js fit: the same steps, negated', async () => {
    // Its answers are the twin's: P(yes) = exp(log P(yes)).
    const twin = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 1, activation: 'sigmoid' })] });
    twin.setWeights([tf.tensor2d(W), tf.tensor1d(B)]);
    const before = await call(app.predict, 'POST', '/v1/models/logsig:predict', { instances, raw: false });
    expect(before.statusCode, JSON.stringify(before.body)).toBe(200);
    const p = (twin.predict(tf.tensor2d(instances)) as tf.Tensor).dataSync();
    for (const [i, answer] of (before.body.predictions as { label: string; scores: { label: string; score: number }[] }[]).entries()) {
      expect(answer.label).toBe((p[i] as number) > 0.5 ? 'yes' : 'no');
      expect(Math.abs((answer.scores.find((s) => s.label === 'yes')?.score as number) - (p[i] as number))).toBeLessThan(1e-5);
    }

    const job = await createJob(
      store,
      'fine-tune',
      { name: 'logsig', version: 1 },
      { instances, labels, validation: { instances, labels }, config: { ...config, trainableLayers: ['negated'] } },
    );
    await runJob({ store, loader: app.services.loader, limits: app.services.limits }, job.id, { 'fine-tune': fineTuneJob });
    const done = JSON.parse(await readFile(path.join(fileURLToPath(store.uri), '_jobs', `${job.id}.json`), 'utf8'));
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const version = path.join(fileURLToPath(store.uri), 'logsig', 'versions', String(done.result.version));

    // The reference: the twin under TF.js's compile and fit, epoch by epoch in the service's order (its seeded shuffle).
    twin.compile({ optimizer: tf.train.adam(config.learningRate), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const truths = labels.map((l) => (l === 'yes' ? 1 : 0));
    let history: tfl.History | undefined;
    for (let epoch = 0; epoch < config.epochs; epoch += 1) {
      const order = epochOrder(instances.length, config.seed, epoch);
      const x = tf.tensor2d(order.map((i) => instances[i] as number[]));
      const y = tf.tensor2d(
        order.map((i) => [truths[i] as number]),
        [order.length, 1],
      );
      history = await twin.fit(x, y, {
        epochs: 1,
        batchSize: config.batchSize,
        shuffle: false,
        verbose: 0,
        validationData: [tf.tensor2d(instances), tf.tensor2d(truths, [truths.length, 1])],
      });
      tf.dispose([x, y]);
    }
    const tuned = await loadLayersFolder(version);
    const [ours, theirs] = [tuned.getWeights(), twin.getWeights()];
    for (const [i, weight] of theirs.entries()) {
      const [mine, expected] = [ours[i]?.dataSync() as Float32Array, weight.dataSync() as Float32Array];
      for (const [j, value] of expected.entries()) expect(Math.abs((mine[j] as number) + value), `weight ${i}[${j}]`).toBeLessThan(1e-4);
    }
    // It trained (the frozen unit did not), and toward the twin's answer.
    expect(Math.abs((ours[0]?.dataSync()[0] as number) + 0.3)).toBeGreaterThan(1e-2);
    expect(ours[2]?.dataSync()[0]).toBe(-1);

    // The version's accuracy is fit's last val_acc for the twin, on the same rows, and what predict labels.
    const { metrics, training } = JSON.parse(await readFile(path.join(version, 'manifest.json'), 'utf8'));
    const twinAccuracy = history?.history.val_acc?.at(-1) as number;
    expect(training.history.at(-1).val_acc).toBeCloseTo(twinAccuracy, 6);
    expect(metrics.accuracy).toBeCloseTo(twinAccuracy, 6);
    const answer = await call(app.predict, 'POST', `/v1/models/logsig/versions/${done.result.version}:predict`, { instances, raw: false });
    const predicted = answer.body.predictions.map((a: { label: string }) => a.label);
    expect(predicted.filter((l: string, i: number) => l === labels[i]).length / labels.length).toBeCloseTo(metrics.accuracy, 6);
    twin.dispose();
    tuned.dispose();
  });
});
