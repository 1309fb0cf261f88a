/**
 * Weight layouts no public fixture has, in files made with Keras 3's layout (test/helpers/kerasFiles.ts):
 * a nested model whose inner Dense has the outer one's shapes (Keras 3 ranks layers per model:
 * `layers/sequential/layers/dense` is the inner one, `layers/dense` the outer), and a Bidirectional
 * LSTM (forward weights first, though `backward_layer` sorts first); each answers what a forward
 * pass written here answers. And the import's edges: a retry after the outcome write failed makes
 * no second version, manifest fields that are not an object are refused, a zip that would inflate
 * past its bound is refused before it is inflated.
 */
import { strToU8, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { importObject } from '../../lib/imports/run.js';
import { unzipBounded } from '../../lib/keras/archive.js';
import { pushKerasFile } from '../../lib/ops/pushKeras.js';
import { listVersions } from '../../lib/registry/index.js';
import { localLimits } from '../../lib/runtime/memory.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { denseLayer, diagonal, filled, inputLayer, kerasFile, lstmLayer } from '../helpers/kerasFiles.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let store: ObjectStore;
let app: App;

beforeAll(async () => {
  store = await tempFolderStore();
  app = serving(store.uri);
});

async function infer(model: string, shape: number[], data: number[]): Promise<number[]> {
  const metadata = await call(app.metadata, 'GET', `/v2/models/${model}`);
  const answer = await call(app.predict, 'POST', `/v2/models/${model}/infer`, { inputs: [{ name: metadata.body.inputs[0].name, shape, datatype: 'FP32', data }] });
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  return answer.body.outputs[0].data;
}

describe('Keras 3 layouts', () => {
  it('a nested model: each Dense gets the weights of its own model', async () => {
    const config = {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: 'outer',
        trainable: true,
        dtype: 'float32',
        layers: [
          inputLayer('x', [null, 2]),
          {
            module: 'keras',
            class_name: 'Sequential',
            config: { name: 'inner', trainable: true, dtype: 'float32', layers: [inputLayer('inner_x', [null, 2]), denseLayer('inner_dense', 2)] },
            registered_name: null,
          },
          denseLayer('outer_dense', 2),
        ],
      },
    };
    const weights = {
      layers: {
        sequential: { layers: { dense: { vars: { '0': diagonal(2, 2), '1': filled([2], 10) } } } },
        dense: { vars: { '0': diagonal(2, 3), '1': filled([2], 0) } },
      },
    };
    await pushKerasFile(store, await kerasFile(config, weights), 'nested.keras', 'nested');
    // outer(inner(x)) = 3 (2x + 10); swapped weights would give 2 (3x) + 10.
    expect(await infer('nested', [1, 2], [1, 1])).toEqual([36, 36]);
  });

  it('a Bidirectional LSTM: forward weights to the forward layer', async () => {
    const config = {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: 's',
        trainable: true,
        dtype: 'float32',
        layers: [
          inputLayer('x', [null, 3, 1]),
          {
            module: 'keras.layers',
            class_name: 'Bidirectional',
            config: {
              name: 'bidirectional',
              trainable: true,
              dtype: 'float32',
              merge_mode: 'concat',
              layer: lstmLayer('forward_lstm', 1, false),
              backward_layer: lstmLayer('backward_lstm', 1, true),
            },
            registered_name: null,
          },
        ],
      },
    };
    const cell = (k: number) => ({ cell: { vars: { '0': filled([1, 4], k), '1': filled([1, 4], k / 2), '2': filled([4], k / 10) } } });
    await pushKerasFile(store, await kerasFile(config, { layers: { bidirectional: { forward_layer: cell(0.3), backward_layer: cell(-0.7) } } }), 'bidi.keras', 'bidi');
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    /** One unit, gates i, f, c, o as Keras orders them. */
    const lstm = (xs: number[], k: number) => {
      let [h, c] = [0, 0];
      for (const x of xs) {
        const z = x * k + (h * k) / 2 + k / 10;
        c = sigmoid(z) * c + sigmoid(z) * Math.tanh(z);
        h = sigmoid(z) * Math.tanh(c);
      }
      return h;
    };
    const xs = [0.5, -1, 2];
    const [forward, backward] = await infer('bidi', [1, 3, 1], xs);
    expect(forward).toBeCloseTo(lstm(xs, 0.3), 6);
    expect(backward).toBeCloseTo(lstm([...xs].reverse(), -0.7), 6);
  });
});

describe('imports under imports/{model}/', () => {
  const budget = localLimits().budget;
  const simple = async () =>
    kerasFile(
      { module: 'keras', class_name: 'Sequential', config: { name: 's', trainable: true, dtype: 'float32', layers: [inputLayer('x', [null, 2]), denseLayer('d', 1)] } },
      { layers: { dense: { vars: { '0': filled([2, 1], 1), '1': filled([1], 0) } } } },
    );

  it('a retry after the outcome could not be written makes no second version', async () => {
    const uploads = await tempFolderStore();
    const registry = await tempFolderStore();
    await uploads.put('imports/retried/m.keras', await simple());
    let failures = 1;
    const flaky: ObjectStore = Object.assign(Object.create(uploads), {
      put: async (key: string, body: Uint8Array | string, options?: object) => {
        if (key.endsWith('.outcome.json') && failures-- > 0) throw new Error('SlowDown: please reduce your request rate');
        return uploads.put(key, body, options as never);
      },
    });
    await expect(importObject(flaky, registry, 'imports/retried/m.keras', budget)).rejects.toThrow(/SlowDown/);
    expect(await importObject(flaky, registry, 'imports/retried/m.keras', budget)).toMatchObject({ status: 'created', version: 1 });
    expect(await listVersions(registry, 'retried')).toEqual([1]);
  });

  it('manifest fields that are not a JSON object are refused', async () => {
    const uploads = await tempFolderStore();
    await uploads.put('imports/meta/m.keras', await simple());
    await uploads.put('imports/meta/m.keras.meta.json', '"just a string"');
    expect(await importObject(uploads, store, 'imports/meta/m.keras', budget)).toMatchObject({ status: 'failed', error: expect.stringMatching(/must hold a JSON object/) });
    expect(await listVersions(store, 'meta')).toEqual([]);
  });

  it('a zip that would inflate past its bound is refused before it is inflated', () => {
    const zip = zipSync({ 'model.json': strToU8('x'.repeat(4096)) }, { level: 9 });
    expect(zip.length).toBeLessThan(200);
    expect(() => unzipBounded(zip, 'big.zip', 1024)).toThrow(/would inflate to more than/);
    expect(Object.keys(unzipBounded(zip, 'big.zip', 8192))).toEqual(['model.json']);
  });
});
