/**
 * Under `serverless offline` (npm start) every function is a worker thread of one process: a
 * function's memory budget counts its own isolate's memory, not the process's RSS, which holds
 * every other function's too. A function of its own process (Lambda) still counts RSS.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const MB = 2 ** 20;
const HOG_MB = 640;

describe('the memory budget in a worker thread', () => {
  it("does not count another thread's memory; the main thread counts the process's RSS", async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/helpers/threadFootprintChild.ts'], {
      env: { ...process.env, TFJS_BACKEND: '', HOG_MB: String(HOG_MB) },
      maxBuffer: 16 * MB,
    });
    const { main, worker } = JSON.parse(stdout.trim().split('\n').pop() ?? '');
    // The main thread (a Lambda's only thread) counts the whole process: the memory it holds.
    expect(main.outside).toBeGreaterThan(main.hogBytes);
    // The worker counts its own: Node's modules, its JS heap, not the main thread's 640 MB.
    expect(worker.outside).toBeLessThan(128 * MB);
    // So a 1024 MB function in that thread plans with most of its memory, not nothing.
    expect(worker.available).toBeGreaterThan(0.5 * worker.functionBytes);
  }, 60_000);
});
