/**
 * TF Serving's columnar form (`inputs`) has no "instances" either: a value in it is named by its
 * column and row (`inputs.image[1]`, `inputs[1]`, `inputs.*[0]` for a row of feature columns), and a
 * feature column missing or of another length is named as a column. Through the predict handler as
 * API Gateway delivers it; no tensor is left behind.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { callHttpApi, serving, type App } from '../helpers/serving.js';

const SEVEN = { b64: (await readFile('examples/seven.png')).toString('base64') };
const NO_IMAGE = { b64: 'aGVsbG8=' };
const COLUMNS = { sepal_length: [5.1, 6.3], sepal_width: [3.5, 2.8], petal_length: [1.4, 5.1], petal_width: [0.2, 1.5] };

let app: App;
beforeAll(() => (app = serving(new URL('../../models', import.meta.url).href)));

describe('TF Serving columnar inputs name a value by its column and row', () => {
  it.each([
    ['a list of images', 'digits', { inputs: [SEVEN, NO_IMAGE] }, /^inputs\[1\]: not a PNG or JPEG image$/],
    ['a named column of images', 'digits', { inputs: { image: [SEVEN, NO_IMAGE] } }, /^inputs\.image\[1\]: not a PNG or JPEG image$/],
    // A string too short for any image (a CSV cell, a bare instance) is still refused as no image, not as "neither an instance nor a raw row".
    ['a short string that is no image', 'digits', { inputs: [SEVEN.b64, 'eHg='] }, /^inputs\[1\]: not a PNG or JPEG image$/],
    ['a list of texts, one a number', 'spam', { inputs: ['free money', 5] }, /^inputs\[1\] is not an instance like inputs\[0\]: send every instance as a string/],
    ['a named column of images, one a number', 'digits', { inputs: { image: [SEVEN, 5] } }, /^inputs\.image\[1\] is not an instance like inputs\.image\[0\]/],
    ['a feature value that is no number', 'iris', { inputs: { ...COLUMNS, petal_width: [0.2, 'x'] } }, /^inputs\.\*\[1\]: petal_width must be a finite number, got "x"/],
    [
      'a feature column missing',
      'iris',
      { inputs: { sepal_length: [5.1] } },
      /^inputs: missing feature column\(s\) sepal_width, petal_length, petal_width: the model takes the columns sepal_length, sepal_width, petal_length, petal_width$/,
    ],
    [
      'a feature column of another length',
      'iris',
      { inputs: { ...COLUMNS, petal_width: [0.2] } },
      /^inputs\.petal_width: 1 values where inputs\.sepal_length has 2: every feature column has one value per row$/,
    ],
    ['a feature column that is no array', 'iris', { inputs: { ...COLUMNS, petal_width: 0.2 } }, /^inputs\.petal_width: expected a feature column/],
  ])('%s', async (_case, model, body, message) => {
    const path = `/v1/models/${model}:predict`;
    await callHttpApi(app.predict, 'POST', path, JSON.stringify({ instances: [[0]] })); // loads the model
    const tensors = tf.memory().numTensors;
    const answer = await callHttpApi(app.predict, 'POST', path, JSON.stringify(body));
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(message);
    expect(answer.body.error).not.toMatch(/instances/);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
