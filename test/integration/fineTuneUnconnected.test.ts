/**
 * trainableLayers that feed only another output than the first (which fine-tune trains): the
 * submission's step measurement cannot take a gradient. A 400 saying so, and nothing left behind
 * (it was a 500 that left the rows, labels and loss of the measured step alive, 3 tensors a request).
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;

beforeAll(async () => {
  await initBackend();
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  const dir = await mkdtemp(path.join(tmpdir(), 'two-heads-'));
  const input = tfl.input({ shape: [4] });
  const first = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head1' }).apply(input) as tfl.SymbolicTensor;
  const second = tfl.layers.dense({ units: 2, name: 'head2' }).apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [first, second] });
  for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(dir, file), bytes);
  model.dispose();
  await pushModelFolder(store, dir, 'two', { labels: ['a', 'b', 'c'], task: 'classification' });
  app = serving(store.uri);
});

it('a fine-tune whose trainableLayers do not feed the trained output is a 400 naming trainableLayers, and leaves no tensor', async () => {
  expect((await call(app.predict, 'POST', '/v1/models/two:predict', { instances: [[1, 2, 3, 4]] })).statusCode).toBe(200);
  const before = tf.memory().numTensors;
  const body = {
    instances: Array.from({ length: 8 }, () => [1, 2, 3, 4]),
    labels: Array.from({ length: 8 }, () => 'a'),
    config: { epochs: 1, batchSize: 2, trainableLayers: ['head2'] },
  };
  for (let i = 0; i < 2; i++) {
    const answer = await call(app.fineTune, 'POST', '/v2/models/two/fine-tune', body);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.error).toMatch(/trainableLayers/);
    expect(tf.memory().numTensors).toBe(before);
  }
});
