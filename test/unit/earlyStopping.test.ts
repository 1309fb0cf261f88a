/**
 * Fine-tune's early stopping stops after the same epoch as TF.js's tf.callbacks.earlyStopping on
 * the same logs: patience counted as TF.js and Keras count it, minDelta, baseline, and monitors
 * that should fall (losses) or rise (accuracy).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { EarlyStopping } from '../../lib/ops/fineTune/earlyStopping.js';
import { uniform } from '../../lib/random.js';
import { tfjsStopEpoch } from '../helpers/tfjsEarlyStopping.js';

type Config = ConstructorParameters<typeof EarlyStopping>[0];

function oursStopEpoch(config: Config, logs: Record<string, number>[]): number | undefined {
  const stopping = new EarlyStopping(config);
  const at = logs.findIndex((log) => stopping.shouldStop(log));
  return at < 0 ? undefined : at + 1;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('early stopping', () => {
  it('with patience 3, val_loss best at epoch 1 and worse at 2, 3 and 4: stops after epoch 4, as TF.js does', async () => {
    const config: Config = { monitor: 'val_loss', patience: 3, minDelta: 0 };
    const logs = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0].map((val_loss) => ({ loss: 1, val_loss }));
    const reference = await tfjsStopEpoch(config, logs);
    expect(reference).toBeDefined();
    expect(oursStopEpoch(config, logs)).toBe(reference);
  });

  it('agrees with TF.js on random sequences, every monitor, patience 0 to 4, with and without minDelta and baseline', async () => {
    const random = uniform(7);
    let compared = 0;
    let stopped = 0;
    for (const monitor of ['val_loss', 'loss', 'val_acc', 'acc'] as const) {
      for (let patience = 0; patience <= 4; patience += 1) {
        for (const minDelta of [0, 0.02]) {
          for (const baseline of [undefined, monitor.includes('acc') ? 0.6 : 0.5]) {
            for (let run = 0; run < 5; run += 1) {
              // A noisy drift in the monitor's good direction, so that runs both improve and stall.
              let value = monitor.includes('acc') ? 0.4 : 1;
              const logs = Array.from({ length: 12 }, () => {
                const improvement = (random() - 0.3) * 0.1;
                value += monitor.includes('acc') ? improvement : -improvement;
                return { [monitor]: value };
              });
              const config: Config = { monitor, patience, minDelta, baseline };
              const reference = await tfjsStopEpoch(config, logs);
              expect(oursStopEpoch(config, logs), JSON.stringify({ config, logs })).toBe(reference);
              compared += 1;
              if (reference !== undefined) stopped += 1;
            }
          }
        }
      }
    }
    // Both outcomes were exercised, not only one.
    expect(stopped).toBeGreaterThan(compared / 5);
    expect(stopped).toBeLessThan(compared);
  });
});
