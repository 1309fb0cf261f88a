/**
 * A push refuses settings that do not fit the model, and without a task it reads the task from what
 * the first output computes (its last activation), not from its width alone.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { importObject } from '../../lib/imports/run.js';
import { pushKerasFile } from '../../lib/ops/pushKeras.js';
import { pushModelFiles, pushModelFolder } from '../../lib/ops/pushFolder.js';
import { listVersions } from '../../lib/registry/index.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { localLimits } from '../../lib/runtime/memory.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeGraphModel, writeLayersModel } from '../helpers/tinyModels.js';

let store: ObjectStore;
let softmax3: string;

beforeAll(async () => {
  await initBackend();
  store = await tempFolderStore();
  softmax3 = await writeLayersModel(); // 4 inputs -> Dense(3, softmax)
});

/** A one-layer model's files: 4 inputs -> Dense(units, activation). */
async function dense(units: number, activation: 'linear' | 'sigmoid' | 'relu') {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units, activation })] });
  const files = await modelFiles(model);
  model.dispose();
  return files;
}

/** The tiny graph model with its softmax op removed: the output is the logits (MatMul + bias). */
async function graphWithoutSoftmax(): Promise<string> {
  const dir = await writeGraphModel();
  const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  modelJson.modelTopology.node = modelJson.modelTopology.node.filter((n: { op: string }) => n.op !== 'Softmax');
  modelJson.signature.outputs = { 'add:0': { ...modelJson.signature.outputs['probs:0'], name: 'add:0' } };
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  return dir;
}

describe('push: settings that do not fit the model', () => {
  it('refuses labels that are not one per output unit, naming both counts, and writes nothing', async () => {
    await expect(pushModelFolder(store, softmax3, 'two-labels', { labels: ['a', 'b'] })).rejects.toThrow(/2 labels for 3 output units/);
    await expect(pushModelFolder(store, softmax3, 'two-labels', { task: 'classification', labels: ['a', 'b', 'c', 'd'] })).rejects.toThrow(/4 labels for 3 output units/);
    expect(await listVersions(store, 'two-labels')).toEqual([]);
  });

  it('refuses a feature named twice, naming it', async () => {
    const input = { kind: 'tabular', features: ['a', 'a', 'c', 'd'].map((name) => ({ name })) };
    await expect(pushModelFolder(store, softmax3, 'twice', { labels: ['x', 'y', 'z'], transforms: { input } })).rejects.toThrow(/feature a is named twice/);
    expect(await listVersions(store, 'twice')).toEqual([]);
  });

  it('refuses a label given twice, naming it, and writes nothing (evaluate and explain would take the first for both)', async () => {
    await expect(pushModelFolder(store, softmax3, 'dup-labels', { labels: ['a', 'b', 'a'] })).rejects.toThrow(/label "a" is given twice/);
    await expect(pushModelFiles(store, await dense(1, 'sigmoid'), 'src', 'dup-labels', { task: 'binary', labels: ['yes', 'yes'] })).rejects.toThrow(/label "yes" is given twice/);
    expect(await listVersions(store, 'dup-labels')).toEqual([]);
  });

  it('an import whose {file}.meta.json gives a label twice fails with its outcome naming it, and writes no version', async () => {
    const uploads = await tempFolderStore();
    const folder = Object.fromEntries(await Promise.all((await readdir(softmax3)).map(async (f) => [f, new Uint8Array(await readFile(path.join(softmax3, f)))] as const)));
    const key = 'imports/dup-import/model.zip';
    await uploads.put(key, zipSync(folder));
    await uploads.put(`${key}.meta.json`, JSON.stringify({ labels: ['a', 'b', 'a'] }));
    const outcome = await importObject(uploads, store, key, localLimits().budget);
    expect(outcome).toMatchObject({ status: 'failed', error: expect.stringMatching(/label "a" is given twice/) });
    expect(await listVersions(store, 'dup-import')).toEqual([]);
  });

  it('refuses labels on a regression model, and a binary model without two labels', async () => {
    await expect(pushModelFolder(store, softmax3, 'regress', { task: 'regression', labels: ['a', 'b', 'c'] })).rejects.toThrow(/regression model has none/);
    await expect(pushModelFiles(store, await dense(1, 'sigmoid'), 'src', 'bin', { task: 'binary', labels: ['a', 'b', 'c'] })).rejects.toThrow(/binary model has 2 labels.*got 3/);
  });
});

describe('push: the task guessed from the output activation', () => {
  it('regression for the Keras LSTM whose last Dense(2) is linear', async () => {
    const bytes = new Uint8Array(await readFile('test/fixtures/keras/lstm_timeseries_keras3_3.keras'));
    expect((await pushKerasFile(store, bytes, 'lstm.keras', 'lstm')).task).toBe('regression');
  });

  it.each([
    ['linear, 3 units', 3, 'linear', 'regression'],
    ['relu, 3 units', 3, 'relu', 'regression'],
    ['sigmoid, 1 unit', 1, 'sigmoid', 'binary'],
  ] as const)('%s', async (_case, units, activation, task) => {
    expect((await pushModelFiles(store, await dense(units, activation), 'src', `dense-${units}-${activation}`)).task).toBe(task);
  });

  it('a graph model whose output is not a softmax: refused without a task, classification with one label per unit', async () => {
    const dir = await graphWithoutSoftmax();
    await expect(pushModelFolder(store, dir, 'logits')).rejects.toThrow(/cannot tell whether the model classifies or regresses.*output add\S* \(shape \[-1,3\]\) has 3 units/);
    expect((await pushModelFolder(store, dir, 'logits', { labels: ['a', 'b', 'c'] })).task).toBe('classification');
    expect((await pushModelFolder(store, dir, 'logits', { task: 'regression' })).task).toBe('regression');
  });
});
