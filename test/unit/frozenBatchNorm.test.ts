/**
 * frozenBatchNormInInference with a BatchNormalization layer shared by two nested models: the
 * layer is one layer, wrapped once, and after restore() its `call` is its class's again, so the
 * serving instance (on which a later fine-tune measures) runs training mode with batch statistics.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { frozenBatchNormInInference } from '../../lib/ops/fineTune/batchNorm.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** input -> sub1 (shared BN) -> sub2 (dense `d`, the same BN): one BN layer reached twice. */
function sharedBatchNormModel(): { model: tfl.LayersModel; bn: tfl.layers.Layer } {
  const bn = tfl.layers.batchNormalization({ name: 'shared_bn', inputShape: [2] });
  const sub1 = tfl.sequential({ name: 'sub1', layers: [bn] });
  const sub2 = tfl.sequential({ name: 'sub2', layers: [tfl.layers.dense({ units: 2, inputShape: [2], name: 'd' }), bn] });
  const input = tfl.input({ shape: [2] });
  const model = tfl.model({ inputs: input, outputs: sub2.apply(sub1.apply(input)) as tfl.SymbolicTensor });
  return { model, bn };
}

/** The layer's output in training mode on two rows far from its moving statistics (mean 0, variance 1). */
function trainingOutput(bn: tfl.layers.Layer): number[][] {
  return tf.tidy(
    () =>
      (
        bn.apply(
          tf.tensor2d([
            [1, 2],
            [3, 10],
          ]),
          { training: true },
        ) as tf.Tensor
      ).arraySync() as number[][],
  );
}
/** Batch statistics normalize each column of two rows to about -1 and 1; moving ones leave them near the input. */
const batchStatistics = [
  [-1, -1],
  [1, 1],
];

describe('frozen BN layers shared by nested models', () => {
  it('after restore(), the shared layer has no wrapper left: training mode uses batch statistics', () => {
    const { model, bn } = sharedBatchNormModel();
    const restore = frozenBatchNormInInference(model, []);
    expect(trainingOutput(bn)[1][1]).toBeCloseTo(10, 1);
    restore();
    expect(Object.hasOwn(bn, 'call')).toBe(false);
    const out = trainingOutput(bn);
    out.flat().forEach((v, i) => expect(v).toBeCloseTo(batchStatistics.flat()[i], 1));
    model.dispose();
  });

  it('a layer shared with a trained nested model is trained: it is not wrapped', () => {
    const { model, bn } = sharedBatchNormModel();
    const restore = frozenBatchNormInInference(model, ['sub1']);
    expect(Object.hasOwn(bn, 'call')).toBe(false);
    restore();
    model.dispose();
  });
});
