/**
 * A version made on another TF.js backend than the serving function's (lib/loader/otherBackend.ts):
 * a model only the cpu backend runs (an int32 matmul, as human's facemesh-attention has) is refused
 * by a push on wasm with a hint, pushed with TFJS_BACKEND=cpu, and then refused by a wasm function
 * when loaded, naming both backends, where it answered every request "internal error" while its
 * ready route said ready.
 */
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { otherBackendMessage } from '../../lib/loader/otherBackend.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { readManifest } from '../../lib/registry/index.js';
import { backendName, initBackend } from '../../lib/runtime/backend.js';
import { writeIntMatMulModel } from '../helpers/handWrittenGraphs.js';
import { runModelctl } from '../helpers/modelctl.js';
import { call, serving } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

it('a model only cpu runs: a wasm push says TFJS_BACKEND=cpu; pushed on cpu, a wasm function refuses it at load, saying so, every time', async () => {
  const folder = await writeIntMatMulModel();
  const store = await tempFolderStore();
  const push = (backend: string) => runModelctl(['--store', store.uri, 'push', folder, '--name', 'intmm', '--task', 'regression'], { ...process.env, TFJS_BACKEND: backend });
  const onWasm = await push('wasm');
  expect(onWasm.code, onWasm.stderr).toBe(1);
  expect(onWasm.stderr).toMatch(
    /^modelctl: TF\.js cannot run the model on the wasm backend \(one example\): .*BatchMatMul.* \(TFJS_BACKEND chooses the functions' backend: a model that only cpu runs is pushed, and served, with TFJS_BACKEND=cpu\)$/m,
  );
  const onCpu = await push('cpu');
  expect(onCpu.code, onCpu.stderr).toBe(0);
  expect((await readManifest(store, 'intmm', 1)).backend).toBe('cpu');

  const app = serving(store.uri, { TFJS_BACKEND: 'wasm' });
  // A model this function runs, served first: the backend started, and what it holds counted.
  await cp('models/iris', path.join(fileURLToPath(store.uri), 'iris'), { recursive: true });
  const iris = () => call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] });
  expect((await iris()).statusCode).toBe(200);
  expect(tf.getBackend()).toBe('wasm');
  const tensors = tf.memory().numTensors;
  const body = { inputs: [{ name: 'x', shape: [1, 2], datatype: 'INT32', data: [1, 1] }] };
  const answers = [];
  for (let i = 0; i < 2; i++) answers.push(await call(app.predict, 'POST', '/v2/models/intmm/infer', body));
  answers.push(await call(app.metadata, 'GET', '/v2/models/intmm/ready'));
  for (const answer of answers) {
    expect(answer.statusCode).toBe(500);
    expect(answer.body.error).toBe(otherBackendMessage('cpu', 'wasm'));
  }
  // The refused model was disposed (its weights and its example's tensors), and is not built again.
  expect(tf.memory().numTensors).toBe(tensors);
  // The function serves its other models on.
  const after = await iris();
  expect(after.statusCode, JSON.stringify(after.body)).toBe(200);

  // TF Serving's status route reports it as TF Serving reports a failed load (END, with why), not
  // AVAILABLE: the version asked for (loaded now), and in the bare model's list both versions (the one
  // the bare name serves loaded, the other as this function found it; damagedRecords.test.ts pins
  // which is which).
  expect((await push('cpu')).code).toBe(0);
  const refused = { state: 'END', status: { error_code: 'FAILED_PRECONDITION', error_message: otherBackendMessage('cpu', 'wasm') } };
  const second = await call(app.metadata, 'GET', '/v1/models/intmm/versions/2');
  expect([second.statusCode, second.body]).toEqual([200, { model_version_status: [{ version: '2', ...refused }] }]);
  const status = await call(app.metadata, 'GET', '/v1/models/intmm');
  expect([status.statusCode, status.body]).toEqual([
    200,
    {
      model_version_status: [
        { version: '1', ...refused },
        { version: '2', ...refused },
      ],
    },
  ]);
  expect((await call(app.metadata, 'GET', '/v1/models/iris')).body.model_version_status[0].state).toBe('AVAILABLE');
});

it('records the backend its trial example ran on, never one the fields give (a --meta or an import meta.json made elsewhere)', async () => {
  const store = await tempFolderStore();
  await initBackend();
  const manifest = await pushModelFolder(store, 'models/iris/versions/1', 'iris', { task: 'classification', backend: 'cpu' });
  expect(manifest.backend).toBe(backendName());
  expect(manifest.backend).not.toBe('cpu');
});
