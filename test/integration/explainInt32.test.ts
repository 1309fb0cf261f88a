/**
 * Explanations of a model whose input is int32 (MoveNet's image is; a converted uint8 input is too):
 * kernelShap, which only runs the model, answers with its rows fed as int32, cut toward zero as
 * predict cuts natural images, and keeps completeness (sum of values = f(x) - f(background)) with
 * f(background) what predict answers for a black image; a raw background must be whole numbers.
 * The gradient methods are a 400 naming int32 and kernelShap. Explain once refused every method
 * for such a model ("explanations need a float32 input").
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { writeInt32ImageModel } from '../helpers/handWrittenGraphs.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
/** 3 x 3, resized to the model's 2 x 2: bilinear values between pixels, which the int32 input cuts. */
const picture = b64(pngBytes(3, 3, (x, y) => [40 * x + 7, 60 * y + 3, 25 * (x + y) + 1, 255]));
const black = b64(pngBytes(2, 2, () => [0, 0, 0, 255]));
const grey = b64(pngBytes(2, 2, () => [90, 90, 90, 255]));

interface ShapExplanation {
  target: { index: number; label: string };
  score: number;
  expectedValue: number;
  exact: boolean;
  shapValues: number[];
}

beforeAll(async () => {
  const store = await tempFolderStore();
  const input = { kind: 'image', width: 2, height: 2, channels: 3, fit: 'stretch', resize: 'bilinear', scale: 1 };
  const model = await writeInt32ImageModel();
  await pushModelFolder(store, model, 'pose', { labels: ['a', 'b'], transforms: { input } });
  // A black image encodes to -100.7 in every channel here, which the int32 input cuts to -100 (not -101).
  await pushModelFolder(store, model, 'pose-centred', { labels: ['a', 'b'], transforms: { input: { ...input, mean: 100.7 } } });
  app = serving(store.uri);
});

/** The model's probabilities for natural images, as predict answers them. */
async function probabilities(model: string, instances: unknown[]): Promise<number[][]> {
  const answer = await call(app.predict, 'POST', `/v1/models/${model}:predict`, { instances, raw: true });
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  return answer.body.predictions;
}

async function kernelShap(model: string, extra: object = {}): Promise<ShapExplanation> {
  const answer = await call(app.explain, 'POST', `/v2/models/${model}/explain`, { instances: [picture], method: 'kernelShap', ...extra });
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  return answer.body.data.explanations[0];
}

/** Completeness, and f(x) and the expected value as predict answers them. */
function expectComplete(explanation: ShapExplanation, fx: number[], background: number[]): void {
  const { index } = explanation.target;
  expect(explanation.score).toBeCloseTo(fx[index], 6);
  expect(explanation.expectedValue).toBeCloseTo(background[index], 6);
  const sum = explanation.shapValues.reduce((a, b) => a + b, 0);
  expect(Math.abs(sum - (explanation.score - explanation.expectedValue))).toBeLessThan(1e-6);
}

describe('explain on an int32 image model', () => {
  it('kernelShap answers 200: exact on 4 pixels, complete, f(background) = predict on a black image', async () => {
    const [fx, fBlack] = await probabilities('pose', [picture, black]);
    const explanation = await kernelShap('pose');
    expect(explanation.exact).toBe(true);
    expect(explanation.shapValues).toHaveLength(4);
    expect(explanation.score - explanation.expectedValue).toBeGreaterThan(0.1); // something to attribute
    expectComplete(explanation, fx, fBlack);
  });

  it('the default background is cut as predict cuts it: a black image normalized to -100.7 is fed as -100', async () => {
    const [fx, fBlack] = await probabilities('pose-centred', [picture, black]);
    expectComplete(await kernelShap('pose-centred'), fx, fBlack);
  });

  it('a background sent as images, or as whole-number raw rows, is used; a raw row with a fraction is a 400 naming it', async () => {
    const [fx, fGrey] = await probabilities('pose', [picture, grey]);
    expectComplete(await kernelShap('pose', { background: [grey] }), fx, fGrey);
    expectComplete(await kernelShap('pose', { background: [Array(12).fill(90)] }), fx, fGrey);
    const fraction = await call(app.explain, 'POST', '/v2/models/pose/explain', { instances: [picture], method: 'kernelShap', background: [[90.5, ...Array(11).fill(90)]] });
    expect(fraction.statusCode).toBe(400);
    expect(fraction.body.error).toMatch(/^background\[0\]\[0\]: .*90\.5/);
  });

  it('the gradient methods are a 400 naming the int32 input and kernelShap; no tensor is left behind', async () => {
    await kernelShap('pose'); // the model loaded and warm before counting
    const before = tf.memory().numTensors;
    for (const method of ['saliency', 'integratedGradients', 'smoothGrad']) {
      const answer = await call(app.explain, 'POST', '/v2/models/pose/explain', { instances: [picture], method });
      expect(answer.statusCode).toBe(400);
      expect(answer.body.error).toBe(
        "gradients cannot be taken with respect to pose:1's input x: it is int32 (whole numbers; a uint8 input is converted to int32), along which no gradient exists; use method kernelShap, which needs no gradients",
      );
    }
    await kernelShap('pose', { background: [grey, black] });
    expect(tf.memory().numTensors).toBe(before);
  });
});
