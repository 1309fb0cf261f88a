/**
 * OIP v2 infer has no "instances": a natural instance is an element of an input's `data`, a tabular
 * row one element of each feature input. A 400 or 413 about one names it by the path the client
 * used (`inputs[0] (image).data[1]`), not as TF Serving's `instances[1]`. Through the predict handler
 * as API Gateway delivers it; no tensor is left behind.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { callHttpApi, serving, type App } from '../helpers/serving.js';

const MODELS = new URL('../../models', import.meta.url).href;
const SEVEN = (await readFile('examples/seven.png')).toString('base64');
const column = (name: string, data: unknown[], datatype = 'FP32') => ({ name, shape: [data.length], datatype, data });
const iris = (sepalLength: unknown[], datatype = 'FP32') => [
  column('sepal_length', sepalLength, datatype),
  column('sepal_width', [3.5, 3.5]),
  column('petal_length', [1.4, 1.4]),
  column('petal_width', [0.2, 0.2]),
];

let app: App;
let small: App;
beforeAll(() => {
  app = serving(MODELS);
  small = serving(MODELS, { MEMORY_BUDGET_BYTES: String(2 ** 20) });
});

describe('OIP infer names an instance by its input and element', () => {
  it.each([
    ['an image that is not base64', () => app, 'digits', { inputs: [column('image', [SEVEN, 'not base64!'], 'BYTES')] }, /^inputs\[0\] \(image\)\.data\[1\]: not valid base64/],
    ['bytes that are no image', () => app, 'digits', { inputs: [column('image', [SEVEN, 'aGVsbG8='], 'BYTES')] }, /^inputs\[0\] \(image\)\.data\[1\]: not a PNG or JPEG image/],
    [
      'more images than the memory budget holds',
      () => small,
      'digits',
      { inputs: [column('image', new Array(1000).fill(SEVEN), 'BYTES')] },
      /^inputs\[0\] \(image\): 1000 instances make [\d.]+ MB of model input .* at most \d+ instances fit at once$/,
    ],
    [
      'a feature column of text that is no number',
      () => app,
      'iris',
      { inputs: iris(['5.1', 'long'], 'BYTES') },
      /^inputs\[\*\]\.data\[0\]: sepal_length must be a finite number, got "5.1"/,
    ],
    [
      'a feature input missing',
      () => app,
      'iris',
      { parameters: { content_type: 'pd' }, inputs: iris([5.1, 6.3]).slice(1) },
      /^missing input\(s\) sepal_length: feature inputs are one input per feature: sepal_length, sepal_width, petal_length, petal_width/,
    ],
    [
      'feature inputs of different lengths',
      () => app,
      'iris',
      { inputs: [...iris([5.1, 6.3]).slice(0, 3), column('petal_width', [0.2])] },
      /^inputs\[3\] \(petal_width\): shape \[1\]: feature inputs each have shape \[N\] or \[N, 1\] with the same N \(inputs\[0\] \(sepal_length\): 2\)/,
    ],
    [
      'a number among texts',
      () => app,
      'spam',
      { inputs: [column('text', ['hi', 5], 'BYTES')] },
      /^inputs\[0\] \(text\)\.data: element 1 is the number 5; datatype BYTES takes strings$/,
    ],
    [
      'a string among booleans',
      () => app,
      'spam',
      { inputs: [column('text', [true, 'x'], 'BOOL')] },
      /^inputs\[0\] \(text\)\.data: element 1 is the string "x"; datatype BOOL takes true or false$/,
    ],
  ])('%s', async (_case, which, model, body, message) => {
    const path = `/v2/models/${model}/infer`;
    await callHttpApi(which().predict, 'POST', path, JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] })); // loads the model
    const tensors = tf.memory().numTensors;
    const answer = await callHttpApi(which().predict, 'POST', path, JSON.stringify(body));
    expect([400, 413]).toContain(answer.statusCode);
    expect(answer.body.error).toMatch(message);
    expect(answer.body.error).not.toMatch(/instances\[/);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
