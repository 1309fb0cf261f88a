import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, NotFoundError } from '../../lib/errors.js';
import { ModelLoader } from '../../lib/loader/index.js';
import { keys, setAlias } from '../../lib/registry/index.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import type { TfModel } from '../../lib/runtime/tfModel.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { recording, tempFolderStore } from '../helpers/stores.js';
import { expectedProbabilities, writeGraphModel, writeLayersModel } from '../helpers/tinyModels.js';

let store: FolderStore;
let root: string;
const WEIGHT_BYTES = (4 * 3 + 3) * 4;

function predict(model: TfModel, x: number[]): number[] {
  const run = model as { predict(input: tf.Tensor): tf.Tensor };
  return tf.tidy(() => Array.from(run.predict(tf.tensor2d([x])).dataSync()));
}

beforeAll(async () => {
  await initBackend();
  store = await tempFolderStore();
  root = new URL(store.uri).pathname;
  const [layersDir, graphDir] = await Promise.all([writeLayersModel(), writeGraphModel()]);
  await pushModelFolder(store, layersDir, 'lin'); // 1
  await pushModelFolder(store, graphDir, 'lin'); // 2
  await pushModelFolder(store, layersDir, 'lin'); // 3
});

describe('model loader', () => {
  it.each([1, 2])('loads version %i and answers like the reference', async (version) => {
    const loader = new ModelLoader(store, { aliasTtlMs: 1000, maxBytes: 1e9 });
    const x = [5.1, 3.5, 1.4, 0.2];
    const probabilities = await loader.withModel({ name: 'lin', version }, ({ model }) => predict(model, x));
    expected(probabilities, expectedProbabilities(x));
    loader.clear();
  });

  it('shares one load among concurrent requests (one GET per file)', async () => {
    const counting = recording(store);
    const loader = new ModelLoader(counting, { aliasTtlMs: 1000, maxBytes: 1e9 });
    const versions = await Promise.all(Array.from({ length: 10 }, () => loader.withModel({ name: 'lin', version: 1 }, (m) => m.version)));
    expect(versions).toEqual(Array(10).fill(1));
    const gets = counting.calls.filter((c) => c.method === 'get').map((c) => c.key);
    expect(gets.sort()).toEqual([keys.file('lin', 1, 'manifest.json'), keys.file('lin', 1, 'model.json'), keys.file('lin', 1, 'weights.bin')].sort());
    loader.clear();
  });

  it('trusts a resolved alias for the TTL, then sees a promotion', async () => {
    let now = 0;
    const loader = new ModelLoader(store, { aliasTtlMs: 30_000, maxBytes: 1e9, now: () => now });
    await setAlias(store, 'lin', 'production', 1);
    expect(await loader.resolve({ name: 'lin' })).toBe(1);
    await setAlias(store, 'lin', 'production', 3);
    now = 29_999;
    expect(await loader.resolve({ name: 'lin' })).toBe(1);
    now = 30_001;
    expect(await loader.resolve({ name: 'lin' })).toBe(3);
    expect(await loader.resolve({ name: 'lin', alias: 'latest' })).toBe(3);
  });

  it('evicts the least recently used model and disposes its tensors', async () => {
    // Room for two models of WEIGHT_BYTES each, not three.
    const loader = new ModelLoader(store, { aliasTtlMs: 1000, maxBytes: 2 * WEIGHT_BYTES });
    const baseline = tf.memory().numTensors;
    await loader.withModel({ name: 'lin', version: 1 }, () => undefined);
    const perModel = tf.memory().numTensors - baseline;
    expect(perModel).toBeGreaterThan(0);
    await loader.withModel({ name: 'lin', version: 2 }, () => undefined);
    await loader.withModel({ name: 'lin', version: 1 }, () => undefined); // 1 is now the most recent
    await loader.withModel({ name: 'lin', version: 3 }, () => undefined); // evicts 2
    expect(loader.cache.keys()).toEqual(['lin:1', 'lin:3']);
    expect(loader.cache.totalBytes).toBe(2 * WEIGHT_BYTES);
    expect(tf.memory().numTensors).toBe(baseline + 2 * perModel);
    loader.clear();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('does not dispose a model evicted while a request still uses it', async () => {
    const loader = new ModelLoader(store, { aliasTtlMs: 1000, maxBytes: WEIGHT_BYTES });
    const baseline = tf.memory().numTensors;
    const answer = await loader.withModel({ name: 'lin', version: 1 }, async ({ model }) => {
      await loader.withModel({ name: 'lin', version: 3 }, () => undefined); // evicts 1 while in use
      return predict(model, [1, 2, 3, 4]);
    });
    expected(answer, expectedProbabilities([1, 2, 3, 4]));
    expect(loader.cache.keys()).toEqual(['lin:3']);
    loader.clear();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('refuses weights that do not match the manifest and caches nothing', async () => {
    const loader = new ModelLoader(store, { aliasTtlMs: 1000, maxBytes: 1e9 });
    const weights = path.join(root, 'lin', 'versions', '3', 'weights.bin');
    const original = await store.get(keys.file('lin', 3, 'weights.bin'));
    const baseline = tf.memory().numTensors;
    try {
      const corrupted = new Uint8Array(original);
      corrupted[0] ^= 0xff;
      await writeFile(weights, corrupted);
      await expect(loader.withModel({ name: 'lin', version: 3 }, () => undefined)).rejects.toThrow(expect.any(IntegrityError));
      expect(loader.cache.keys()).toEqual([]);
      expect(tf.memory().numTensors).toBe(baseline);
    } finally {
      await writeFile(weights, original);
    }
    // The failure was not cached: once the bytes are right again, the same loader serves it.
    expect(await loader.withModel({ name: 'lin', version: 3 }, (m) => m.version)).toBe(3);
    loader.clear();
  });

  it('a version that lost a weight shard is damaged (500), not an unknown version (404), and its message names no store', async () => {
    const loader = new ModelLoader(store, { aliasTtlMs: 1000, maxBytes: 1e9 });
    const weights = path.join(root, 'lin', 'versions', '3', 'weights.bin');
    const original = await store.get(keys.file('lin', 3, 'weights.bin'));
    try {
      await rm(weights);
      const error = await loader.withModel({ name: 'lin', version: 3 }, () => undefined).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as IntegrityError).message).toBe('lin:3: weights.bin is missing from the store');
    } finally {
      await writeFile(weights, original);
    }
    loader.clear();
  });

  it('answers 404 for an unknown model or version', async () => {
    const loader = new ModelLoader(store, { aliasTtlMs: 1000, maxBytes: 1e9 });
    await expect(loader.withModel({ name: 'nope' }, () => undefined)).rejects.toBeInstanceOf(NotFoundError);
    await expect(loader.withModel({ name: 'lin', version: 42 }, () => undefined)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('preloads a list of references', async () => {
    const loader = new ModelLoader(store, { aliasTtlMs: 1000, maxBytes: 1e9 });
    await loader.preload(['lin@production', 'lin:2']);
    expect(loader.cache.keys().sort()).toEqual(['lin:2', 'lin:3']);
    loader.clear();
  });
});

function expected(actual: number[], reference: number[]): void {
  expect(actual).toHaveLength(reference.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(reference[i], 5));
}
