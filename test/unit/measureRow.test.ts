/**
 * A pass measured under tf.profile (lib/runtime/memory.ts measureRow) whose kernel throws: the
 * caller gets the kernel's own error, the process is not ended by a rejection nobody awaits (TF.js
 * times kernels with an async function under a profile), and later kernels are not profiled.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../lib/runtime/backend.js';
import { costPerRow, measureRow } from '../../lib/runtime/memory.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  await initBackend();
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('measureRow', () => {
  it("a kernel that throws: the kernel's error, no unhandled rejection, profiling off, the backend as it was", async () => {
    const model = {};
    const backend = tf.engine().backend;
    const timeBefore = backend.time;
    const before = tf.memory().numTensors;
    const failing = () => {
      tf.tidy(() => tf.engine().runKernel('Identity', { x: undefined as unknown as tf.Tensor }));
    };
    await expect(measureRow(model, 'forward', failing)).rejects.toThrow(/kernel input 'x' is missing|undefined/);
    // A rejection nobody awaits is reported on a later turn.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
    expect((tf.engine().state as unknown as { profiling: boolean }).profiling).toBe(false);
    expect(backend.time).toBe(timeBefore);
    expect(costPerRow(model, 'forward')).toBeUndefined();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a pass that runs is measured, and the backend is left as it was', async () => {
    const model = {};
    const backend = tf.engine().backend;
    const timeBefore = backend.time;
    const cost = await measureRow(model, 'forward', () => tf.tidy(() => tf.add(tf.ones([256]), 1)).dispose());
    expect(cost).toBeGreaterThanOrEqual(1024);
    expect(costPerRow(model, 'forward')).toBe(cost);
    expect(backend.time).toBe(timeBefore);
  });
});
