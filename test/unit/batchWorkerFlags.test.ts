/**
 * The V8 flags `modelctl batch` gives its workers (lib/runtime/processEnv.ts): the two that keep a
 * worker's heap flat on Node 20, none on the nodes where they made scoring up to half again as
 * slow, and never a flag the running node refuses (a worker would then fail to start).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { batchWorkerNodeFlags } from '../../lib/runtime/processEnv.js';

describe('batchWorkerNodeFlags', () => {
  it('keeps the single-threaded collector and a tight old generation on Node 20 only', () => {
    expect(batchWorkerNodeFlags('20.20.2')).toEqual(['--single-threaded-gc', '--heap-growing-percent=25']);
    expect(batchWorkerNodeFlags('22.23.5')).toEqual([]);
    expect(batchWorkerNodeFlags('24.22.3')).toEqual([]);
  });

  it('gives the running node only flags it starts with', async () => {
    const flags = batchWorkerNodeFlags();
    // node refuses an unknown V8 flag (exit 9, "bad option"), which would reject here.
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, '-e', 'process.stdout.write("started")']);
    expect(stdout).toBe('started');
  });
});
