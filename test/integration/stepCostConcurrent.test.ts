/**
 * Fine-tune's training step measurement (lib/ops/fineTune/stepCost.ts) counts the tensor bytes
 * alive during the step. Under serverless offline one process serves many requests: another
 * request's TF.js work that runs while the step is measured (a tensor it allocates or frees, a
 * second fine-tune being planned) must not change the figure that is then remembered for the model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVersion } from '../../lib/loader/readVersion.js';
import { measureStep, type StepCost } from '../../lib/ops/fineTune/stepCost.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { openStore } from '../../lib/store/index.js';

const FOUR_MB = 2 ** 20; // float32 values

let iris: LayersModel;
let digits: LayersModel;

beforeAll(async () => {
  await initBackend();
  const store = openStore('file://models');
  iris = (await readVersion(store, 'iris', 1)).model as LayersModel;
  digits = (await readVersion(store, 'digits', 1)).model as LayersModel;
});

/** The step of training every weight of `model` with Adam on rows of its input shape. */
function measure(model: LayersModel): Promise<StepCost> | StepCost {
  const trained = model.layers.flatMap((l) => l.weights.filter((w) => w.trainable).map((w) => w.read() as tf.Variable));
  const rowShape = (model.inputs[0]?.shape ?? []).slice(1) as number[];
  return measureStep(model, trained, rowShape, { task: 'classification', optimizer: 'adam', trainedLayers: model.layers.map((l) => l.name) }, () => true);
}

/** Another request's work, run as soon as the measurement lets other code run. */
async function meanwhile(work: () => void): Promise<void> {
  await null;
  work();
}

describe("a training step's measured bytes, with other requests' TF.js work in the same process", () => {
  it('are the same when another request allocates 4 MB of tensors while the step is measured', async () => {
    const alone = await measure(iris);
    let other: tf.Tensor | undefined;
    const [during] = await Promise.all([measure(iris), meanwhile(() => (other = tf.fill([FOUR_MB], 1)))]);
    other?.dispose();
    expect(during).toEqual(alone);
  });

  it('are the same when another request frees 4 MB of tensors while the step is measured', async () => {
    const alone = await measure(iris);
    const other = tf.fill([FOUR_MB], 1);
    const [during] = await Promise.all([measure(iris), meanwhile(() => other.dispose())]);
    expect(during).toEqual(alone);
  });

  it('are the same for two fine-tunes planned at once (iris and digits) as for each alone, and leave no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const irisAlone = await measure(iris);
    const digitsAlone = await measure(digits);
    const [irisAtOnce, digitsAtOnce] = await Promise.all([measure(iris), measure(digits)]);
    expect(irisAtOnce).toEqual(irisAlone);
    expect(digitsAtOnce).toEqual(digitsAlone);
    expect(tf.memory().numTensors).toBe(before);
  });
});
