/**
 * A process of two threads, as `serverless offline` runs functions: the main thread holds HOG_MB of
 * resident memory, then starts this file again as a worker thread that plans with a memory budget.
 * Prints one JSON line: each thread's bytes outside tensors and the worker's budget.
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { configureBackend, initBackend } from '../../lib/runtime/backend.js';
import { bytesOutsideTensors } from '../../lib/runtime/footprint.js';
import { MemoryBudget } from '../../lib/runtime/memory.js';

const FUNCTION_BYTES = 1024 * 2 ** 20;

configureBackend({ backend: 'wasm' });
await initBackend();

if (isMainThread) {
  // Filled, so the pages are resident (an untouched allocation would not be in RSS).
  const hog = Array.from({ length: Number(process.env.HOG_MB) / 16 }, () => Buffer.alloc(16 * 2 ** 20, 1));
  // A worker thread does not inherit the process's tsx hooks: it registers them, then loads this file.
  const worker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`, { eval: true });
  worker.on('message', (inWorker) => {
    console.log(JSON.stringify({ main: { outside: bytesOutsideTensors(), hogBytes: hog.length * 16 * 2 ** 20 }, worker: inWorker }));
    void worker.terminate();
  });
} else {
  const budget = new MemoryBudget({ functionBytes: FUNCTION_BYTES });
  parentPort?.postMessage({ outside: bytesOutsideTensors(), available: budget.available(), functionBytes: FUNCTION_BYTES });
}
