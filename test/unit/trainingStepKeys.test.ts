/**
 * The training steps a fine-tune check measures and keeps (lib/ops/fineTune/budget.ts) are kept by
 * the set of layers trained, not by the request's list of them: a list may repeat and reorder
 * layer names at will (the request's schema allows it), and kept by the list, every request's
 * list stayed in memory for as long as the model did.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkTrainingFits, type TrainingPlan } from '../../lib/ops/fineTune/budget.js';
import { fineTuneConfig } from '../../lib/ops/fineTune/request.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { MemoryBudget } from '../../lib/runtime/memory.js';

const MB = 2 ** 20;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

beforeAll(async () => {
  await initBackend();
});

/** Heap bytes in use after a full collection. */
function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('measured training steps', () => {
  it('lists that repeat and reorder the same layers share one measurement and keep nothing of the request', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [4], units: 8, activation: 'relu', name: 'a_hidden_layer_with_a_long_name' }),
        tfl.layers.dense({ units: 3, activation: 'softmax', name: 'output' }),
      ],
    });
    const tensorsBefore = tf.memory().numTensors;
    const plan = (trainable: string[]): TrainingPlan => ({
      model,
      name: 'tiny:1',
      task: 'classification',
      config: fineTuneConfig.parse({ batchSize: 8 }),
      trainable,
      rows: 16,
      rowBytes: 16,
      budget: new MemoryBudget({ functionBytes: 2048 * MB }),
    });
    await checkTrainingFits(plan(['output', 'a_hidden_layer_with_a_long_name']), [4]);
    const before = heapUsed();
    // Ten requests, each listing the hidden layer 100,000 times (3.2 MB as a key) and the output layer.
    for (let i = 1; i <= 10; i += 1) {
      await checkTrainingFits(plan([...new Array<string>(100_000 + i).fill('a_hidden_layer_with_a_long_name'), 'output']), [4]);
    }
    const kept = heapUsed() - before;
    expect(kept, `${(kept / MB).toFixed(1)} MB kept after ten checks`).toBeLessThan(2 * MB);
    model.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore - 4);
  });
});
