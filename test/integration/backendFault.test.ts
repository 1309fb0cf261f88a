/**
 * Recovery from a backend fault (lib/runtime/recovery.ts), driven by a real exhaustion of the wasm
 * heap (test/helpers/faults.ts). The request that hit it gets a plain 500 without internals; the
 * backend is reset, so later requests in the same process, for models loaded before (reloaded) and
 * never loaded, answer as before. When the backend cannot be started again, the process ends (so
 * Lambda replaces it) and a fresh process serves.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { findWasmDir } from '../../lib/runtime/wasmFiles.js';
import { heapExhaustingExplain } from '../helpers/faults.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const IRIS = { instances: [[5.1, 3.5, 1.4, 0.2]] };
let storeUri: string;

beforeAll(async () => {
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  storeUri = store.uri;
});

/** The 500 a fault answers: the generic message and the request id, nothing of the trap. */
function expectPlain500(answer: { statusCode: number; body: unknown }): void {
  expect(answer.statusCode).toBe(500);
  expect(Object.keys(answer.body as object).sort()).toEqual(['error', 'requestId']);
  expect((answer.body as { error: string }).error).toBe('internal error');
}

describe('a wasm heap exhaustion in a warm process', () => {
  let app: App;

  it('answers that request 500 without internals; the next requests are served by a reset backend', async () => {
    app = serving(storeUri, heapExhaustingExplain.env);
    const before = await call(app.predict, 'POST', '/v1/models/iris:predict', IRIS);
    expect(before.statusCode).toBe(200);

    expectPlain500(await call(app.explain, 'POST', heapExhaustingExplain.path, await heapExhaustingExplain.body()));

    // iris was loaded before the fault: its tensors went with the old backend; it reloads.
    const after = await call(app.predict, 'POST', '/v1/models/iris:predict', IRIS);
    expect(after.statusCode).toBe(200);
    expect(after.body).toEqual(before.body);
    // spam was never loaded; digits (the model of the failed request) works for a request that fits.
    expect((await call(app.predict, 'POST', '/v1/models/spam:predict', { instances: ['win a free prize now'] })).statusCode).toBe(200);
    const body = (await heapExhaustingExplain.body()) as { instances: unknown[] };
    expect((await call(app.explain, 'POST', '/v2/models/digits/explain', { instances: body.instances.slice(0, 1), method: 'saliency' })).statusCode).toBe(200);
    expect(tf.getBackend()).toBe('wasm');
    // Nothing of the failed request is left: disposing the loaded models leaves no tensor.
    app.services.loader.clear();
    expect(tf.memory().numTensors).toBe(0);
  }, 120_000);
});

/** Runs test/helpers/faultChild.ts; its answers, one per line, and its exit code. */
function runChild(env: Record<string, string>): Promise<{ answers: { step: string; status: number; body: unknown }[]; code: number | null; logs: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/faultChild.ts'], {
      env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    let logs = '';
    child.stderr.on('data', (chunk) => {
      logs += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const answers = stdout
        .split('\n')
        .filter((line) => line.startsWith('{"step"'))
        .map((line) => JSON.parse(line));
      resolve({ answers, code, logs: stdout + logs });
    });
  });
}

describe('a backend that cannot be started again', () => {
  it('ends the process (Lambda replaces it) instead of failing every later request; a fresh process serves', async () => {
    const wasmDir = await mkdtemp(path.join(tmpdir(), 'wasm-'));
    await cp(findWasmDir() ?? '', wasmDir, { recursive: true });
    const broken = await runChild({ MODEL_STORE_URI: storeUri, TFJS_WASM_DIR: wasmDir, BREAK_WASM: '1' });
    expect(broken.answers.map((a) => [a.step, a.status])).toEqual([['before', 200]]);
    expect(broken.code).toBe(1);
    expect(broken.logs).toMatch(/the backend could not be started again: ending the process/);

    // The next environment, with its binary, serves.
    const fresh = await runChild({ MODEL_STORE_URI: storeUri, TFJS_WASM_DIR: findWasmDir() ?? '', NO_FAULT: '1' });
    expect(fresh.answers).toEqual([{ ...broken.answers[0], body: fresh.answers[0]?.body }]);
    expect(fresh.answers[0].body).toEqual(broken.answers[0].body);
    expect(fresh.code).toBe(0);
  }, 180_000);
});
