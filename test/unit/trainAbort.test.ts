/**
 * A fine-tune whose job is taken over stops training at the next batch, not at the end of the
 * epoch (one epoch of a large data set can take minutes): train() with an aborted signal, on the
 * iris demo model and an epoch of 4,000 batches of one row. TF.js yields to the event loop every
 * 125 ms during fit(), which is when the abort (a timer here; the job's heartbeat in the worker)
 * comes; the batch after it is the last.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, expect, it } from 'vitest';
import { readVersion } from '../../lib/loader/readVersion.js';
import { fineTuneConfig } from '../../lib/ops/fineTune/request.js';
import { train } from '../../lib/ops/fineTune/train.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { FolderStore } from '../../lib/store/folder.js';

const store = new FolderStore(path.resolve('models'));
const ROWS = 4000;

beforeAll(async () => {
  await initBackend();
});

/** `rows` rows of four measurements in cm and their species' indices (their values do not matter here). */
function rowsOf(rows: number) {
  const x = Float32Array.from({ length: rows * 4 }, (_, i) => 1 + ((i * 7) % 50) / 10);
  return { x, rowShape: [4], truths: Array.from({ length: rows }, (_, i) => i % 3), sha256: '' };
}

it('an abort during an epoch stops fit() after the batch it came during; train() throws its reason and frees what it allocated', async () => {
  const tensors = tf.memory().numTensors;
  const base = await readVersion(store, 'iris', 1);
  const model = base.model as tfl.LayersModel;
  try {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('taken over')), 0);
    const config = fineTuneConfig.parse({ epochs: 2, batchSize: 1 });
    await expect(train(model, base.manifest, rowsOf(ROWS), rowsOf(30), config, { signal: stop.signal })).rejects.toThrow('taken over');
    const steps = (model.optimizer as tf.Optimizer).iterations;
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThan(ROWS); // mid-epoch
  } finally {
    model.dispose();
  }
  expect(tf.memory().numTensors).toBe(tensors);
});
