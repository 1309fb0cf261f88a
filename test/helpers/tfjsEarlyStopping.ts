/**
 * The reference for fine-tune's early stopping: TF.js's own tf.callbacks.earlyStopping, driven
 * through its lifecycle (train begin, then one epoch's logs at a time) on a model it can stop.
 */
import * as tfl from '@tensorflow/tfjs-layers';

export interface EarlyStoppingSettings {
  monitor: string;
  patience: number;
  minDelta?: number;
  baseline?: number;
}

/** The epoch (from 1) after which TF.js stops training on these logs, or undefined if it would not. */
export async function tfjsStopEpoch(settings: EarlyStoppingSettings, logs: Record<string, number>[]): Promise<number | undefined> {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1] })] });
  model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' }); // stopTraining needs a compiled model
  try {
    const callback = tfl.callbacks.earlyStopping(settings);
    callback.setModel(model);
    await callback.onTrainBegin();
    for (const [epoch, log] of logs.entries()) {
      await callback.onEpochEnd(epoch, { ...log });
      if (model.stopTraining) return epoch + 1;
    }
    return undefined;
  } finally {
    model.dispose();
  }
}
