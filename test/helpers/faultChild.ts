/**
 * A process that serves requests until its wasm heap runs out, for test/integration/backendFault.
 * It answers a predict, optionally removes the wasm binary (so the backend cannot be started
 * again), sends an explanation that exhausts the heap (no memory budget: MEMORY_BUDGET_BYTES is
 * huge), then predicts again. Each answer is one JSON line on stdout.
 * Env: MODEL_STORE_URI, TFJS_WASM_DIR, BREAK_WASM=1 to delete the binary before the fault,
 * NO_FAULT=1 to only predict (a fresh environment's first request).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { WASM_SIMD_FILE } from '../../lib/runtime/wasmFiles.js';
import { heapExhaustingExplain } from './faults.js';
import { call, serving } from './serving.js';

const wasmDir = process.env.TFJS_WASM_DIR ?? '';
const app = serving(process.env.MODEL_STORE_URI ?? '', { TFJS_BACKEND: 'wasm', TFJS_WASM_DIR: wasmDir, ...heapExhaustingExplain.env });
const say = (step: string, answer: { statusCode: number; body: unknown }) => console.log(JSON.stringify({ step, status: answer.statusCode, body: answer.body }));

say('before', await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] }));
if (!process.env.NO_FAULT) {
  if (process.env.BREAK_WASM) await rm(path.join(wasmDir, WASM_SIMD_FILE));
  say('fault', await call(app.explain, 'POST', heapExhaustingExplain.path, await heapExhaustingExplain.body()));
  say('after', await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] }));
}
