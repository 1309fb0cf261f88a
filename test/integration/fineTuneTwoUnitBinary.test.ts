/**
 * A binary model of two units (a softmax over [negative, positive], as Keras binary heads often
 * are) fine-tunes as TF.js's own fit trains it: one-hot targets, categorical cross-entropy, the
 * same rows in the same order. Its job failed with an internal error: the [rows, 1] targets of a
 * one-unit model did not fit its [rows, 2] output.
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
let folder: string;

const instances = PAIRS;
const labels = PAIR_LABELS;
const config = { epochs: 4, batchSize: 16, learningRate: 0.05, seed: 5, optimizer: 'adam' as const };

beforeAll(async () => {
  await tf.setBackend('cpu');
  folder = await mkdtemp(path.join(tmpdir(), 'two-unit-binary-'));
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 2, activation: 'softmax', name: 'probs' })] });
  model.setWeights([tf.tensor2d([0.3, -0.2, -0.1, 0.4], [2, 2]), tf.tensor1d([0.05, -0.05])]);
  await saveLayersFolder(model, folder);
  model.dispose();
  store = await tempFolderStore();
  await pushModelFolder(store, folder, 'pair', { task: 'binary', labels: ['no', 'yes'] });
  app = serving(store.uri);
});

describe('a binary model of two units', () => {
  it('fine-tunes as TF.js fit trains it on one-hot targets, and its metrics and answers read both units', async () => {
    const job = await createJob(
      store,
      'fine-tune',
      { name: 'pair', version: 1 },
      { instances, labels, validation: { instances, labels }, config: { ...config, trainableLayers: 'all' } },
    );
    await runJob({ store, loader: app.services.loader, limits: app.services.limits }, job.id, { 'fine-tune': fineTuneJob });
    const done = JSON.parse(await readFile(path.join(fileURLToPath(store.uri), '_jobs', `${job.id}.json`), 'utf8'));
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const version = path.join(fileURLToPath(store.uri), 'pair', 'versions', String(done.result.version));

    // The reference: TF.js's compile and fit, epoch by epoch in the service's order (its seeded shuffle).
    const reference = await loadLayersFolder(folder);
    reference.compile({ optimizer: tf.train.adam(config.learningRate), loss: 'categoricalCrossentropy' });
    const truths = labels.map((l) => (l === 'yes' ? 1 : 0));
    for (let epoch = 0; epoch < config.epochs; epoch += 1) {
      const order = epochOrder(instances.length, config.seed, epoch);
      const x = tf.tensor2d(order.map((i) => instances[i] as number[]));
      const y = tf.oneHot(
        tf.tensor1d(
          order.map((i) => truths[i] as number),
          'int32',
        ),
        2,
      );
      await reference.fit(x, y, { epochs: 1, batchSize: config.batchSize, shuffle: false, verbose: 0 });
      tf.dispose([x, y]);
    }
    const tuned = await loadLayersFolder(version);
    for (const [i, weight] of reference.getWeights().entries()) {
      const [ours, theirs] = [tuned.getWeights()[i]?.dataSync() as Float32Array, weight.dataSync() as Float32Array];
      for (const [j, value] of theirs.entries()) expect(Math.abs((ours[j] as number) - value), `weight ${i}[${j}]`).toBeLessThan(1e-4);
    }
    expect(Math.abs((tuned.getWeights()[0]?.dataSync()[0] as number) - 0.3)).toBeGreaterThan(1e-3);

    // The version's accuracy is fit's last val_acc on the same rows, and what predict labels.
    const { metrics, training } = JSON.parse(await readFile(path.join(version, 'manifest.json'), 'utf8'));
    expect(training.history.at(-1).val_acc).toBeCloseTo(metrics.accuracy, 6);
    const answer = await call(app.predict, 'POST', `/v1/models/pair/versions/${done.result.version}:predict`, { instances, raw: false });
    const predicted = answer.body.predictions.map((p: { label: string }) => p.label);
    expect(predicted.filter((l: string, i: number) => l === labels[i]).length / labels.length).toBeCloseTo(metrics.accuracy, 6);
    reference.dispose();
    tuned.dispose();
  });
});
