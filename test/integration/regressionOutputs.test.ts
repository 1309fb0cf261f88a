/**
 * A regression model whose output holds many values per example (an image-to-image model, as
 * @upscalerjs/esrgan-slim's upscaler is: its output is 2H x 2W x 3 pixels) has no one value to
 * compare with a label. Evaluate answered the metrics of its first value (mse 145.76 = (112.07 -
 * 100)², the other 12,287 ignored); fine-tuning would broadcast the label over every value. Both
 * are refused with a 400, nothing stored, while predict still answers every value. A model whose
 * output size the signature leaves open is checked on its output: one value per example is
 * evaluated, more refused. Explain's predictions nest each row as predict does where the signature
 * fixes the row's shape.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { listAll } from '../../lib/store/index.js';
import { saveLayersFolder } from '../helpers/layersFolder.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let store: FolderStore;

async function pushed(name: string, build: () => tfl.LayersModel): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), `${name}-`));
  const model = build();
  await saveLayersFolder(model, dir);
  model.dispose();
  const manifest = await pushModelFolder(store, dir, name, { task: 'regression' });
  expect(manifest.task).toBe('regression');
}

async function stored(): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of listAll(store, '')) keys.push(o.key);
  return keys.sort();
}

beforeAll(async () => {
  await initBackend();
  store = await tempFolderStore();
  app = serving(store.uri);
  // An upscaler's shape: any image in, twice its size out, three values a pixel.
  await pushed('upscaler', () =>
    tfl.sequential({
      layers: [tfl.layers.conv2d({ inputShape: [null, null, 3], filters: 3, kernelSize: 1, kernelInitializer: 'ones' }), tfl.layers.upSampling2d({ size: [2, 2] })],
    }),
  );
  // A sequence in, a value per step out: how many values an example has, only its input says.
  await pushed('perstep', () => tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [null, 1], units: 1, kernelInitializer: 'ones' })] }));
  // A pose model's shape: a fixed number of keypoints of three values each (MoveNet's 17 x 3).
  await pushed('keypoints', () =>
    tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 6, kernelInitializer: 'glorotUniform' }), tfl.layers.reshape({ targetShape: [2, 3] })] }),
  );
});

const pixel = [10, 20, 30];
const image = [
  [pixel, pixel],
  [pixel, pixel],
];

describe('a regression output of many values per example', () => {
  it('evaluate refuses it (sync, saved, async) with a 400 naming the output, nothing stored; predict answers every value, in its shape', async () => {
    const before = await stored();
    const requests = [
      { handler: app.evaluate, path: '/v2/models/upscaler/evaluate', extra: {} },
      { handler: app.evaluations, path: '/v2/models/upscaler/evaluations', extra: { save: true } },
      { handler: app.evaluations, path: '/v2/models/upscaler/evaluations?async=true', extra: { save: true } },
    ];
    for (const { handler, path: route, extra } of requests) {
      const answer = await call(handler, 'POST', route, { instances: [image], labels: [100], ...extra });
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.error).toMatch(/^evaluate compares one value per example with its label, and upscaler's output .+ has at least 3 values per example/);
    }
    expect(await stored()).toEqual(before);
    const predicted = await call(app.predict, 'POST', '/v1/models/upscaler:predict', { instances: [image] });
    expect(predicted.statusCode).toBe(200);
    expect(predicted.body.predictions[0].flat(2)).toEqual(Array(4 * 4 * 3).fill(60));
    // As answers, each row's values in the output's shape (they were one flat list of 48).
    const answered = await call(app.predict, 'POST', '/v1/models/upscaler:predict', { instances: [image, image], raw: false });
    expect(answered.statusCode).toBe(200);
    const rgb = [60, 60, 60];
    expect(answered.body.predictions).toEqual(Array(2).fill({ value: Array(4).fill(Array(4).fill(rgb)) }));
  });

  it("explain's predictions are predict's answers, each row in the output's shape (they were one flat list: a pose's 17 x 3 keypoints as 51 numbers)", async () => {
    const instances = [
      [1, -2, 0.5, 3],
      [0, 4, -1, 2],
    ];
    const answered = await call(app.predict, 'POST', '/v1/models/keypoints:predict', { instances, raw: false });
    expect(answered.statusCode).toBe(200);
    expect(answered.body.predictions[0].value).toHaveLength(2);
    for (const method of ['kernelShap', 'saliency']) {
      const explained = await call(app.explain, 'POST', '/v2/models/keypoints/explain', { instances, method, target: 4 });
      expect(explained.statusCode, JSON.stringify(explained.body)).toBe(200);
      expect(explained.body.predictions, method).toEqual(answered.body.predictions);
    }
    // One whose row the signature leaves open keeps the flat row explain computed (it runs on flattened rows).
    const upscaled = await call(app.explain, 'POST', '/v2/models/upscaler/explain', { instances: [image], method: 'saliency', target: 0 });
    expect(upscaled.statusCode, JSON.stringify(upscaled.body)).toBe(200);
    expect(upscaled.body.predictions[0].value).toEqual(Array(48).fill(60));
  });

  it('fine-tuning refuses it, and a model whose values per example are unknown, nothing stored', async () => {
    const before = await stored();
    const upscaler = await call(app.fineTune, 'POST', '/v2/models/upscaler/fine-tune', { instances: [image, image], labels: [1, 2], config: { epochs: 1 } });
    expect(upscaler.statusCode, JSON.stringify(upscaler.body)).toBe(400);
    expect(upscaler.body.error).toMatch(/^fine-tuning compares one value per example with its label, and upscaler's output .+ has at least 3 values per example/);
    const perstep = await call(app.fineTune, 'POST', '/v2/models/perstep/fine-tune', { instances: [[[1]], [[2]]], labels: [1, 2], config: { epochs: 1 } });
    expect(perstep.statusCode, JSON.stringify(perstep.body)).toBe(400);
    expect(perstep.body.error).toMatch(/has an unknown number of values per example/);
    expect(await stored()).toEqual(before);
  });

  it('an output whose size the signature leaves open: one value per example is evaluated, more are refused', async () => {
    const one = await call(app.evaluate, 'POST', '/v2/models/perstep/evaluate', { instances: [[[1]], [[2]], [[4]]], labels: [1, 3, 4] });
    expect(one.statusCode, JSON.stringify(one.body)).toBe(200);
    // The model doubles nothing: its answers are its inputs, so the errors are 0, 1 and 0.
    expect(one.body.metrics.mse).toBeCloseTo(1 / 3, 6);
    const tensors = tf.memory().numTensors;
    const three = await call(app.evaluate, 'POST', '/v2/models/perstep/evaluate', { instances: [[[1], [2], [3]]], labels: [1] });
    expect(three.statusCode, JSON.stringify(three.body)).toBe(400);
    expect(three.body.error).toMatch(/^evaluate compares one value per example with its label, and perstep's output .+ has 3 values per example/);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
