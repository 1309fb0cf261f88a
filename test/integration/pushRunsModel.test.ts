/**
 * What a push takes and refuses of a graph model, by what TF.js makes of it on the backend the
 * functions run (wasm): string weights (a vocabulary, a tag), which TF.js stores with their byte
 * lengths inside the shards, are pushed and served as TF.js computes with them; a model TF.js
 * cannot run there (an op it does not know, an op wasm has no kernel for) is refused at the push,
 * with TF.js's words and nothing stored, where it was stored and then answered every request
 * with a 500.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// TF.js on cpu runs what wasm cannot (StaticRegexReplace): there the model is shown to be sound.
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { listAll } from '../../lib/store/index.js';
import { loadWrittenGraph, writeFailingAsyncModel, writeGroupedPixelsModel, writeStringWeightModel } from '../helpers/handWrittenGraphs.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let store: FolderStore;
let app: App;
const TEXTS = ['hello world', 'Free PRIZE now', '', 'ünïcode tëxt', 'a'];

/** TF.js itself on `backend`: the answers for TEXTS. */
async function reference(folder: string, backend: 'cpu' | 'wasm'): Promise<number[][]> {
  await tf.setBackend(backend);
  try {
    const model = await loadWrittenGraph(folder);
    const out = tf.tidy(() => (model.predict(tf.tensor(TEXTS, [TEXTS.length], 'string')) as tf.Tensor).arraySync() as number[][]);
    model.dispose();
    return out;
  } finally {
    await tf.setBackend('wasm');
  }
}

beforeAll(async () => {
  await initBackend();
  store = await tempFolderStore();
  app = serving(store.uri);
});

/** Every object the store holds under a model's name. */
async function storedUnder(name: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listAll(store, `${name}/`)) keys.push(object.key);
  return keys;
}

describe('a push runs the model it stores', () => {
  it('takes string weights and serves the answers TF.js computes with them', async () => {
    const folder = await writeStringWeightModel();
    const manifest = await pushModelFolder(store, folder, 'tagged', { labels: ['a', 'b', 'c'] });
    expect(manifest.signature.inputs[0]).toMatchObject({ dtype: 'string', shape: [-1] });
    const expected = await reference(folder, 'wasm');
    await call(app.predict, 'POST', '/v1/models/tagged:predict', { instances: ['warm'] }); // loads (and keeps) the weights
    const before = tf.memory().numTensors;
    const answer = await call(app.predict, 'POST', '/v1/models/tagged:predict', { instances: TEXTS, raw: false });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    for (const [r, prediction] of (answer.body.predictions as { label: string; scores: { label: string; score: number }[] }[]).entries()) {
      const row = expected[r] as number[];
      expect(prediction.label).toBe(['a', 'b', 'c'][row.indexOf(Math.max(...row))]);
      for (const { label, score } of prediction.scores) expect(Math.abs(score - (row[['a', 'b', 'c'].indexOf(label)] as number))).toBeLessThan(1e-6);
    }
    expect(tf.memory().numTensors).toBe(before);
    // The tag's bytes matter: the same model with another tag of the same length (one of its first
    // bytes changed: it lands in another of the 4 buckets) answers otherwise.
    const json = JSON.parse(await readFile(path.join(folder, 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].weights[0]).toMatchObject({ name: 'tag', dtype: 'string' });
    const original = await readFile(path.join(folder, 'group1-shard1of1.bin'));
    const answers: number[][][] = [];
    for (let i = 0; i < 8; i++) {
      const shard = Buffer.from(original);
      shard[4 + i] = (shard[4 + i] as number) ^ 1; // after the tag's 4-byte length
      await writeFile(path.join(folder, 'group1-shard1of1.bin'), shard);
      answers.push(await reference(folder, 'wasm'));
    }
    expect(answers.some((a) => JSON.stringify(a) !== JSON.stringify(expected))).toBe(true);
  });

  it('refuses string weights whose lengths run past the shards, naming the weight, and stores nothing', async () => {
    const folder = await writeStringWeightModel();
    const shard = await readFile(path.join(folder, 'group1-shard1of1.bin'));
    shard.writeUInt32LE(10_000, 0); // the tag says it is 10,000 bytes long
    await writeFile(path.join(folder, 'group1-shard1of1.bin'), shard);
    await expect(pushModelFolder(store, folder, 'overlong', { labels: ['a', 'b', 'c'] })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/weight tag: its strings run past the end of the weight files/),
    });
    // A shard with bytes beyond its last string is refused as a wrong-sized one is.
    const extra = await writeStringWeightModel();
    await writeFile(path.join(extra, 'group1-shard1of1.bin'), Buffer.concat([await readFile(path.join(extra, 'group1-shard1of1.bin')), Buffer.alloc(3)]));
    await expect(pushModelFolder(store, extra, 'extra', { labels: ['a', 'b', 'c'] })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/hold \d+ bytes but weightsManifest\[0\] declares/),
    });
    // Shorter than its weights' fewest bytes (each string at least its length): refused before it is read.
    const short = await writeStringWeightModel();
    await writeFile(path.join(short, 'group1-shard1of1.bin'), (await readFile(path.join(short, 'group1-shard1of1.bin'))).subarray(0, 10));
    await expect(pushModelFolder(store, short, 'short', { labels: ['a', 'b', 'c'] })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/hold 10 bytes, fewer than the 104 weightsManifest\[0\]'s weights take at least/),
    });
    expect(await storedUnder('overlong')).toEqual([]);
    expect(await storedUnder('short')).toEqual([]);
    expect(await storedUnder('extra')).toEqual([]);
  });

  it('refuses a model with an op the backend has no kernel for, naming it; TF.js on cpu runs it', async () => {
    const folder = await writeStringWeightModel(true);
    expect((await reference(folder, 'cpu')).length).toBe(TEXTS.length);
    await expect(pushModelFolder(store, folder, 'lowercased', { labels: ['a', 'b', 'c'] })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(
        /^TF\.js cannot run the model on the wasm backend .*Kernel 'StaticRegexReplace' not registered for backend 'wasm'.* \(TFJS_BACKEND chooses the functions' backend: a model that only cpu runs is pushed, and served, with TFJS_BACKEND=cpu\)$/,
      ),
    });
    expect(await storedUnder('lowercased')).toEqual([]);
  });

  it('learns an output shape the signature leaves out by running a text example (it fed float zeros to the string input)', async () => {
    const manifest = await pushModelFolder(store, await writeStringWeightModel(false, false), 'unsaid', { labels: ['a', 'b', 'c'] });
    expect(manifest.signature.outputs[0]).toMatchObject({ name: 'probs', shape: [-1, 3] });
  });

  it('refuses a model TF.js runs only asynchronously that fails, leaving no tensor behind', async () => {
    const folder = await writeFailingAsyncModel();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await expect(pushModelFolder(store, folder, 'failsasync', { task: 'regression' })).rejects.toMatchObject({
        statusCode: 400,
        // A model no backend runs is not told to try cpu.
        message: expect.stringMatching(/^TF\.js cannot run the model on the wasm backend .*must match the product of shape 7(?!.*TFJS_BACKEND)/),
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(await storedUnder('failsasync')).toEqual([]);
  });

  it('runs an image model of open size at the size its --image settings fix: refused at a size it cannot use, stored at one it can', async () => {
    const folder = await writeGroupedPixelsModel();
    const image = (side: number) => ({ task: 'regression' as const, transforms: { input: { kind: 'image', width: side, height: side, channels: 3 } } });
    await expect(pushModelFolder(store, folder, 'grouped', image(3))).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^TF\.js cannot run the model on the wasm backend \(one example\): /),
    });
    expect(await storedUnder('grouped')).toEqual([]);
    const manifest = await pushModelFolder(store, folder, 'grouped', image(4));
    expect(manifest.version).toBe(1);
  });

  it('refuses a model with an op TF.js does not know, naming it', async () => {
    const folder = await writeStringWeightModel();
    const json = JSON.parse(await readFile(path.join(folder, 'model.json'), 'utf8'));
    json.modelTopology.node.find((n: { name: string }) => n.name === 'sum').op = 'AddV3';
    await writeFile(path.join(folder, 'model.json'), JSON.stringify(json));
    await expect(pushModelFolder(store, folder, 'unknownop', { labels: ['a', 'b', 'c'] })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/Unknown op 'AddV3'/),
    });
    expect(await storedUnder('unknownop')).toEqual([]);
  });
});
