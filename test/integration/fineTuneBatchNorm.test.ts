/**
 * Batch normalization in a fine-tune, as Keras runs it: a BN layer that is not trained runs in
 * inference mode (it used to rewrite its moving statistics in fit(): a head-only fine-tune of
 * MobileNetV2 changed 104 frozen weights), and one TF.js cannot train (scale or center false: its
 * training pass reads the missing gamma, a 500 mid-job) is refused up front when trained, and runs
 * fine when frozen (nsfwjs's InceptionV3 has 94 such layers).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVersion } from '../../lib/loader/readVersion.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { epochOrder, splitRows } from '../../lib/ops/fineTune/data.js';
import { listVersions } from '../../lib/registry/index.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { call, serving, waitForJob, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let store: FolderStore;

/** dense -> BN -> dense -> BN (`lastBn`) -> softmax head over 4 inputs and 3 classes. */
async function pushBatchNormModel(name: string, lastBn: { scale?: boolean; center?: boolean }): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bn-model-'));
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [4], units: 8, name: 'dense1' }),
      tfl.layers.batchNormalization({ name: 'bn1' }),
      tfl.layers.dense({ units: 8, activation: 'relu', name: 'dense2' }),
      tfl.layers.batchNormalization({ name: 'bn2', ...lastBn }),
      tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
    ],
  });
  for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(dir, file), bytes);
  model.dispose();
  await pushModelFolder(store, dir, name, { labels: ['a', 'b', 'c'], task: 'classification' });
}

/** Rows far from the moving statistics' start (mean 0, variance 1): training mode would move them. */
const rows = Array.from({ length: 24 }, (_, i) => [3 + (i % 5), -2 + (i % 3), 10 - (i % 7), 5]);
const labels = rows.map((_, i) => ['a', 'b', 'c'][i % 3]);

/** Every weight of a stored version, by layer and weight name. */
async function weightsOf(name: string, version: number): Promise<Map<string, Float32Array>> {
  const { model } = await readVersion(store, name, version);
  const weights = new Map<string, Float32Array>();
  for (const layer of (model as tfl.LayersModel).layers)
    for (const w of layer.weights) weights.set(`${layer.name}/${w.originalName.split('/').pop()}`, w.read().dataSync() as Float32Array);
  model.dispose();
  return weights;
}

/** The weights that differ between two versions (bit for bit). */
function changed(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  expect([...b.keys()]).toEqual([...a.keys()]);
  return [...a].filter(([key, values]) => !Buffer.from(values.buffer).equals(Buffer.from((b.get(key) as Float32Array).buffer))).map(([key]) => key);
}

const submit = (name: string, trainableLayers: unknown) =>
  call(app.fineTune, 'POST', `/v2/models/${name}/fine-tune`, { instances: rows, labels, config: { epochs: 2, batchSize: 4, learningRate: 0.05, trainableLayers } });

/** The version a fine-tune that must succeed writes. */
async function fineTune(name: string, trainableLayers: unknown): Promise<number> {
  const answer = await submit(name, trainableLayers);
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(202);
  const job = await waitForJob(app, answer.body.id);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  return (job.result as { version: number }).version;
}

beforeAll(async () => {
  await initBackend();
  store = await tempFolderStore();
  await pushBatchNormModel('bn', {});
  await pushBatchNormModel('bnnoscale', { scale: false });
  app = serving(store.uri);
});

describe('fine-tune with batch normalization layers', () => {
  it('trainableLayers {"last": 1}: only the head changes; the frozen BN layers keep their moving statistics bit for bit', async () => {
    const version = await fineTune('bn', { last: 1 });
    expect(changed(await weightsOf('bn', 1), await weightsOf('bn', version))).toEqual(['head/kernel', 'head/bias']);
  });

  it('trainableLayers {"last": 1}: the head is what Keras trains, TF.js fit of the head on the frozen trunk\'s inference-mode outputs', async () => {
    const version = await fineTune('bn', { last: 1 });
    const base = (await readVersion(store, 'bn', 1)).model as tfl.LayersModel;
    // Keras runs a frozen BN layer in inference mode: the head then learns from what predict gives up to bn2.
    const trunk = tfl.model({ inputs: base.inputs, outputs: base.getLayer('bn2').output as tfl.SymbolicTensor });
    const head = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [8], units: 3, activation: 'softmax' })] });
    head.setWeights(base.getLayer('head').getWeights());
    head.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
    // The request's defaults: validation split 0.2 and seed 42 (the service's seeded order, reproduced).
    const { train } = splitRows(rows.length, 0.2, 42);
    for (let epoch = 0; epoch < 2; epoch += 1) {
      const order = epochOrder(train.length, 42, epoch).map((i) => train[i] as number);
      const x = tf.tensor2d(order.map((r) => rows[r] as number[]));
      const features = trunk.predict(x) as tf.Tensor;
      const y = tf.tensor2d(order.map((r) => [0, 1, 2].map((k) => (k === r % 3 ? 1 : 0))));
      await head.fit(features, y, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
      tf.dispose([x, features, y]);
    }
    const written = await weightsOf('bn', version);
    for (const [i, name] of ['head/kernel', 'head/bias'].entries()) {
      const expected = head.getWeights()[i]?.dataSync() as Float32Array;
      const got = written.get(name) as Float32Array;
      const worst = Math.max(...Array.from(expected, (v, j) => Math.abs(v - (got[j] as number)) / Math.max(1e-3, Math.abs(v))));
      expect(worst, name).toBeLessThan(1e-5);
    }
    base.dispose();
    head.dispose();
  });

  it('a trained BN layer still trains in training mode: its gamma, beta and moving statistics move; the frozen one does not', async () => {
    const version = await fineTune('bn', ['bn1', 'head']);
    expect(changed(await weightsOf('bn', 1), await weightsOf('bn', version))).toEqual([
      'bn1/gamma',
      'bn1/beta',
      'bn1/moving_mean',
      'bn1/moving_variance',
      'head/kernel',
      'head/bias',
    ]);
  });

  it('a frozen BN layer with scale: false runs in inference mode: the fine-tune succeeds and keeps it', async () => {
    const version = await fineTune('bnnoscale', { last: 1 });
    expect(changed(await weightsOf('bnnoscale', 1), await weightsOf('bnnoscale', version))).toEqual(['head/kernel', 'head/bias']);
  });

  it('a trained BN layer with scale: false is a 400 naming it, before any job, and leaves no tensor', async () => {
    const versions = () => listVersions(store, 'bnnoscale');
    const before = { tensors: tf.memory().numTensors, model: await versions() };
    for (const trainableLayers of ['all', { last: 2 }, ['bn2']]) {
      const answer = await submit('bnnoscale', trainableLayers);
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.error).toMatch(/trainableLayers includes BatchNormalization layer\(s\) .*: bn2 \(scale: false\);/);
      // What trains the layers after it (with "all", the default, a model of many such layers could only list names).
      expect(answer.body.error).toMatch(/, e\.g\. \{"last": 1\} \(the last 1 layers with weights, none of them such a layer\)$/);
    }
    expect(tf.memory().numTensors).toBe(before.tensors);
    expect(await versions()).toEqual(before.model);
  });
});
