/**
 * The estimate of a forward row's bytes before it is measured (lib/runtime/forwardPeak.ts): an
 * upper bound of the measured peak, and near it. The sum of every layer's activations said 84 MB
 * for nsfwjs's MobileNetV2, measured at 26 MB, and a 256 MB function (60 MB to give) refused the
 * model forever: the estimate kept the row from ever being measured.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportNsfwModel } from '../../examples/export-nsfwjs.mjs';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { measureRow } from '../../lib/runtime/memory.js';
import { activationBytesPerRow, forwardBytesPerRow, modelFromMemory } from '../../lib/runtime/tfModel.js';
import { call, serving } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeConvImageModel } from '../helpers/tinyModels.js';

const MB = 2 ** 20;
/** Measured (wasm): digits 1.9, spam 1.25, iris 1.2, housing 1.1, MobileNetV2 1.09, conv 1.09. */
const AT_MOST = 2;

let mobileNetDir: string;
/** A 1 x 1 convolution to 32 channels of a 224 x 224 x 3 image, then a global average pool. */
let convDir: string;

/** A layers model folder (model.json and its shards) built as the loader builds it. */
async function loadFolder(dir: string): Promise<LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  const shards = await Promise.all(json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths).map((p: string) => readFile(path.join(dir, p))));
  const weights = Buffer.concat(shards);
  return (await modelFromMemory('layers', json, weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength))) as LayersModel;
}

/** One row through predict, measured as the budget measures it (measureRow). */
function measureForward(model: LayersModel): Promise<number> {
  return measureRow(model, 'forward', () => {
    const x = model.inputs.map((input) => tf.zeros([1, ...(input.shape.slice(1) as number[])], input.dtype));
    const y = model.predict(x.length === 1 ? x[0] : x) as tf.Tensor;
    y.dataSync();
    tf.dispose([y, ...x]);
  });
}

beforeAll(async () => {
  await initBackend();
  mobileNetDir = await exportNsfwModel('MobileNetV2', await mkdtemp(path.join(tmpdir(), 'forward-peak-')));
  convDir = await writeConvImageModel(224, 224, 3);
}, 60_000);

const folderOf = (name: string) => ({ MobileNetV2: mobileNetDir, conv: convDir })[name] ?? `models/${name}/versions/1`;

describe('the forward estimate before a row is measured', () => {
  it.each(['digits', 'spam', 'iris', 'housing', 'MobileNetV2', 'conv'])(`%s: at least the measured peak, at most ${AT_MOST} times it`, async (name) => {
    const model = await loadFolder(folderOf(name));
    const before = tf.memory().numTensors;
    const measured = await measureForward(model);
    const estimate = forwardBytesPerRow(model) ?? Number.NaN;
    expect(estimate).toBeGreaterThanOrEqual(measured);
    expect(estimate).toBeLessThanOrEqual(AT_MOST * measured);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('the measured peak counts the tensors a kernel makes and frees inside itself: the global average pool transposes the convolution output it reads', async () => {
    const model = await loadFolder(convDir);
    const convOutput = 224 * 224 * 32 * 4;
    // The profile's snapshots, taken between kernels, said 7.3 MB: the image and the convolution
    // output, not the wasm Mean's transposed copy of it, and calls sized by it took twice their share.
    expect(await measureForward(model)).toBeGreaterThanOrEqual(224 * 224 * 3 * 4 + 2 * convOutput);
    model.dispose();
  });

  it('MobileNetV2 runs under a budget above its peak and below its summed activations (refused before)', async () => {
    const model = await loadFolder(mobileNetDir);
    const [measured, summed] = [await measureForward(model), activationBytesPerRow(model) ?? 0];
    model.dispose();
    const budget = 48 * MB;
    expect(measured).toBeLessThan(budget / 1.5);
    expect(summed).toBeGreaterThan(budget);
    const store = await tempFolderStore();
    await pushModelFolder(store, mobileNetDir, 'nsfw');
    const app = serving(store.uri, { MEMORY_BUDGET_BYTES: String(budget) });
    const row = Array.from({ length: 224 }, () => Array.from({ length: 224 }, () => [0.5, 0.5, 0.5]));
    const answer = await call(app.predict, 'POST', '/v1/models/nsfw:predict', { instances: [row] });
    expect(answer.statusCode, JSON.stringify(answer.body).slice(0, 400)).toBe(200);
    expect(answer.body.predictions[0]).toHaveLength(5);
  }, 60_000);
});
