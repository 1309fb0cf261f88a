/**
 * A pass measured under tf.profile (lib/runtime/memory.ts measureRow) whose kernel throws: the
 * caller gets the kernel's own error, the process is not ended by a rejection nobody awaits (TF.js
 * times kernels with an async function under a profile), and later kernels are not profiled. The
 * costs are kept per row shape, which requests choose, so only the most recent shapes' are kept.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../lib/runtime/backend.js';
import { MEASURED_KEYS_PER_MODEL } from '../../lib/runtime/measuredCosts.js';
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

  it('keeps the costs of the most recently used row shapes only, however many shapes requests send', async () => {
    const model = {};
    const shapes = Array.from({ length: 3 * MEASURED_KEYS_PER_MODEL }, (_, i) => [i + 1, 1]);
    const pass = (rows: number) => () => tf.tidy(() => tf.add(tf.ones([rows]), 1)).dispose();
    await measureRow(model, 'forward', pass(1), shapes[0]);
    for (const shape of shapes.slice(1)) {
      // The first shape is used on every request, so it stays.
      expect(costPerRow(model, 'forward', shapes[0])).toBeDefined();
      await measureRow(model, 'forward', pass(shape[0]), shape);
    }
    const kept = shapes.filter((shape) => costPerRow(model, 'forward', shape) !== undefined);
    expect(kept.length).toBe(MEASURED_KEYS_PER_MODEL);
    expect(kept).toContainEqual(shapes[0]);
    expect(kept).toContainEqual(shapes.at(-1));
    expect(kept).not.toContainEqual(shapes[1]);
  });
});
