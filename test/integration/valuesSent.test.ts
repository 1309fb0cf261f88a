/**
 * Values a model cannot take as sent are refused with their place, never turned into an answer
 * computed from something else (a number beyond float32 reaching the model as Infinity, NaN sent
 * in binary, an integer that wraps), and requests shaped to break the server (no rows, nesting
 * deeper than the stack, the same input twice) get 4xx answers naming what is wrong.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { binaryRequest, type BinaryInput } from '../helpers/binaryClient.js';
import { call, callHttpApi, serving, type App } from '../helpers/serving.js';

let app: App;
beforeAll(async () => {
  app = serving(new URL('../../models', import.meta.url).href);
  await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] }); // loads the model before the tensor baselines
});

const IRIS_ROW = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const fp32 = (data: unknown, datatype = 'FP32', shape = [1, 4]) => ({ inputs: [{ name: 'features', shape, datatype, data }] });

/** A predict request refused with a 400 whose message matches, leaving the tensors as they were. */
async function expectRefused(path: string, body: unknown, message: RegExp): Promise<void> {
  const baseline = tf.memory().numTensors;
  const answer = await call(app.predict, 'POST', path, body);
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(400);
  expect((answer.body as { error: string }).error).toMatch(message);
  expect(tf.memory().numTensors).toBe(baseline);
}

describe('values beyond what the model computes in', () => {
  it.each([
    ['a raw row (TF Serving)', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 1e39]] }, /instances\[0\]\[3\]: 1e\+39 is not a finite float32/],
    ['a raw row, columns (TF Serving)', '/v1/models/iris:predict', { inputs: [[5.1, 3.5, 1.4, -1e39]] }, /-1e\+39 is not a finite float32/],
    ['a feature record', '/v1/models/iris:predict', { instances: [{ ...IRIS_ROW, petal_width: 1e39 }] }, /petal_width is 1e\+39, beyond float32/],
    ['OIP FP32 data', '/v2/models/iris/infer', fp32([5.1, 3.5, 1.4, 1e39]), /data\[3\]: 1e\+39 is not a finite float32/],
    ['OIP FP64 data', '/v2/models/iris/infer', fp32([[5.1, 3.5, 1.4, 1e300]], 'FP64'), /1e\+300 is not a finite float32/],
    ['OIP INT32 data beyond int32', '/v2/models/iris/infer', fp32([5, 3, 1, 3000000000], 'INT32'), /3000000000 is not an integer in -2147483648\.\.2147483647/],
    ['OIP INT32 data with a fraction', '/v2/models/iris/infer', fp32([5, 3, 1, 1.5], 'INT32'), /1\.5 is not an integer/],
    ['OIP INT8 data beyond int8', '/v2/models/iris/infer', fp32([5, 3, 1, 300], 'INT8'), /300 is not an integer in -128\.\.127/],
    ['OIP UINT8 data below zero', '/v2/models/iris/infer', fp32([5, 3, 1, -1], 'UINT8'), /-1 is not an integer in 0\.\.255/],
    ['OIP UINT8 data with a fraction', '/v2/models/iris/infer', fp32([5, 3, 1, 1.5], 'UINT8'), /1\.5 is not an integer in 0\.\.255/],
  ])('%s: 400 naming the value', async (_case, path, body, message) => expectRefused(path, body, message));

  it('evaluate refuses the row instead of scoring it', async () => {
    const answer = await call(app.evaluate, 'POST', '/v2/models/iris/evaluate', { instances: [[5.1, 3.5, 1.4, 1e39]], labels: ['setosa'] });
    expect(answer.statusCode).toBe(400);
    expect((answer.body as { error: string }).error).toMatch(/not a finite float32/);
  });

  it.each([
    ['NaN', Number.NaN, /NaN is not a finite float32/],
    ['Infinity', Number.POSITIVE_INFINITY, /Infinity is not a finite float32/],
  ])('binary FP32 %s: 400', async (_case, value, message) => {
    const input: BinaryInput = { name: 'features', shape: [2, 4], datatype: 'FP32', values: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, value] };
    const { body, headerLength } = binaryRequest([input]);
    const answer = await app.predict({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/v2/models/iris/infer',
      rawQueryString: '',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
      requestContext: { http: { method: 'POST', path: '/v2/models/iris/infer' }, requestId: 'values-test' },
      body: Buffer.from(body).toString('base64'),
      isBase64Encoded: true,
    });
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body as string).error).toMatch(message);
  });

  it('values float32 holds still pass, at its edge too (the model then overflows: its raw output is answered, a label would be a 422)', async () => {
    const answer = await call(app.predict, 'POST', '/v2/models/iris/infer', { ...fp32([5.1, 3.5, 1.4, 3.4e38]), outputs: [{ name: 'probabilities' }] });
    expect(answer.statusCode).toBe(200);
    const labelled = await call(app.predict, 'POST', '/v2/models/iris/infer', fp32([5.1, 3.5, 1.4, 3.4e38]));
    expect(labelled.statusCode).toBe(422);
  });
});

describe('a boolean where the model takes numbers is refused with its place, as TF Serving refuses one for a float input (it was read as 1 or 0)', () => {
  it.each([
    [
      'a raw row (TF Serving)',
      '/v1/models/iris:predict',
      { instances: [[true, false, true, false]] },
      /^instances\[0\]\[0\]: expected numbers for input features \(float32, shape \[-1,4\]\), got the boolean true$/,
    ],
    [
      'a raw row, columns (TF Serving)',
      '/v1/models/iris:predict',
      { inputs: { features: [[5.1, 3.5, 1.4, false]] } },
      /^inputs\.features\[0\]\[3\]: expected numbers .*, got the boolean false$/,
    ],
    ['OIP FP32 data', '/v2/models/iris/infer', fp32([true, 2, 3, 4]), /^inputs\[0\] \(features\)\.data\[0\]: the boolean true is not a number; datatype FP32 takes numbers$/],
    [
      'OIP BOOL data of numbers',
      '/v2/models/iris/infer',
      fp32([true, 0, true, true], 'BOOL'),
      /^inputs\[0\] \(features\)\.data: element 1 is the number 0; datatype BOOL takes true or false$/,
    ],
    [
      'OIP INT32 nested data',
      '/v2/models/iris/infer',
      fp32([[5, 3, false, 2]], 'INT32'),
      /^inputs\[0\] \(features\)\.data\[0\]\[2\]: the boolean false is not a number; datatype INT32 takes numbers$/,
    ],
  ])('%s: 400 naming the element', async (_case, path, body, message) => expectRefused(path, body, message));

  it('evaluate refuses the row too', async () => {
    const answer = await call(app.evaluate, 'POST', '/v2/models/iris/evaluate', { instances: [[5.1, 3.5, true, 0.2]], labels: ['setosa'] });
    expect(answer.statusCode).toBe(400);
    expect((answer.body as { error: string }).error).toMatch(/\[0\]\[2\]: expected numbers .*, got the boolean true/);
  });

  it('OIP BOOL data still is: the datatype says booleans, and the model takes them as 1 and 0', async () => {
    const bools = await call(app.predict, 'POST', '/v2/models/iris/infer', fp32([true, false, true, true], 'BOOL'));
    const numbers = await call(app.predict, 'POST', '/v2/models/iris/infer', fp32([1, 0, 1, 1]));
    expect(bools.statusCode).toBe(200);
    expect(bools.body.outputs).toEqual(numbers.body.outputs);
  });
});

describe('instances of the wrong kind are blamed by place, not the valid ones beside them', () => {
  it.each([
    [
      'a feature record, then a raw row',
      'iris',
      [IRIS_ROW, [5.1, 3.5, 1.4, 0.2]],
      /^instances\[1\] is not an instance like instances\[0\]: send every instance as an object with one number per feature/,
    ],
    // The first row sets the form, as evaluate reads a data set a chunk at a time: the record is the odd one, named as an instance.
    ['a raw row, then a feature record', 'iris', [[5.1, 3.5, 1.4, 0.2], IRIS_ROW], /^instances\[1\] is an instance, not a raw tensor row like instances\[0\]/],
    // ({"b64": ...} alone is a text too, its UTF-8 bytes, as TF Serving reads one for a string input.)
    [
      'an image to the text model',
      'spam',
      [{ image: { b64: 'aGVsbG8=' } }],
      /^instances\[0\] is neither an instance model spam takes nor a raw tensor row: send every instance as a string/,
    ],
    [
      'text, then an image, to the text model',
      'spam',
      ['win a prize', { image: { b64: 'aGVsbG8=' } }],
      /^instances\[1\] is not an instance like instances\[0\]: send every instance as a string/,
    ],
    ['an image to the tabular model', 'iris', [{ b64: 'aGVsbG8=' }], /^instances\[0\] is neither an instance model iris takes nor a raw tensor row/],
  ])('%s: 400 naming the odd one and what the model takes', async (_case, model, instances, message) => {
    const answer = await call(app.predict, 'POST', `/v1/models/${model}:predict`, { instances });
    expect(answer.statusCode).toBe(400);
    expect((answer.body as { error: string }).error).toMatch(message);
    expect((answer.body as { error: string }).error).toContain(`GET /v2/models/${model} says what one must be`);
  });

  it('raw rows alone (also by input name), and feature records alone, are still scored', async () => {
    const raw = await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] });
    const natural = await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [IRIS_ROW] });
    const named = await call(app.predict, 'POST', '/v1/models/spam:predict', { instances: [{ bag_of_words: new Array(1000).fill(0) }] });
    expect([raw.statusCode, natural.statusCode, named.statusCode]).toEqual([200, 200, 200]);
    expect(natural.body.predictions[0].label).toBe('setosa');
    expect(raw.body.predictions).toHaveLength(1);
  });
});

describe('requests shaped to break the server', () => {
  it.each([
    ['an OIP tensor of no rows', fp32([], 'FP32', [0, 4]), /no rows/],
    ['the same input twice', { inputs: [fp32([5.1, 3.5, 1.4, 0.2]).inputs[0], fp32([6.7, 3.0, 5.2, 2.3]).inputs[0]] }, /"features" is used by an earlier input too/],
  ])('%s: 400', async (_case, body, message) => {
    const answer = await call(app.predict, 'POST', '/v2/models/iris/infer', body);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(400);
    expect((answer.body as { error: string }).error).toMatch(message);
  });

  const deep = (depth: number, leaf: string) => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
  it.each([
    ['predict, TF Serving', (a: App) => a.predict, '/v1/models/iris:predict', `{"instances":${deep(100_000, '')}}`],
    ['predict, OIP data', (a: App) => a.predict, '/v2/models/iris/infer', `{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":${deep(100_000, '1')}}]}`],
    ['explain', (a: App) => a.explain, '/v2/models/iris/explain', `{"instances":${deep(100_000, '')}}`],
    ['preprocess', (a: App) => a.predict, '/v2/models/digits/preprocess', `{"instances":${deep(100_000, '')}}`],
    [
      'a feature nested as objects',
      (a: App) => a.predict,
      '/v1/models/iris:predict',
      `{"instances":[{"sepal_length":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)},"sepal_width":1,"petal_length":1,"petal_width":1}]}`,
    ],
  ])('nesting 100,000 deep (%s): 400, not a stack overflow', async (_case, pick, path, body) => {
    const answer = await callHttpApi(pick(app), 'POST', path, body);
    expect(answer.statusCode, JSON.stringify(answer.body).slice(0, 300)).toBe(400);
  });
});

describe('metadata', () => {
  it("a tabular model's example instance uses its own features", async () => {
    const answer = await call(app.metadata, 'GET', '/v2/models/housing');
    const help = (answer.body as { inputs: { parameters: { natural_input: string } }[] }).inputs[0].parameters.natural_input;
    expect(help).toMatch(/"crim": /);
    expect(help).not.toMatch(/sepal/);
  });
});

describe("TF Serving's columnar form takes what its row form and OIP take, and names an input the model does not have", () => {
  it.each([
    ['digits', 'image', async () => ({ b64: (await import('node:fs')).readFileSync('examples/seven.png').toString('base64') })],
    ['spam', 'bag_of_words', async () => 'WIN a FREE prize now! Click here to claim your cash'],
  ])('%s: {"inputs": {"%s": [instance]}} answers as {"instances": [instance]}', async (model, input, instance) => {
    const value = await instance();
    const rows = await call(app.predict, 'POST', `/v1/models/${model}:predict`, { instances: [value] });
    const columns = await call(app.predict, 'POST', `/v1/models/${model}:predict`, { inputs: { [input]: [value] } });
    expect(rows.statusCode).toBe(200);
    expect(columns.statusCode, JSON.stringify(columns.body)).toBe(200);
    expect(columns.body.outputs).toEqual(rows.body.predictions);
  });

  it.each([
    [{ ...Object.fromEntries(Object.entries(IRIS_ROW).map(([k, v]) => [k, [v]])), extra: [1] }, /^inputs: unknown input\(s\) extra: the model takes features, or feature columns/],
    [{ sepal_length: [5.1], features: [[5.1, 3.5, 1.4, 0.2]] }, /^inputs: sepal_length, features mixes feature columns and model inputs/],
  ])('feature columns with a name that is neither: 400 naming only that one (%j)', async (inputs, message) => {
    const answer = await call(app.predict, 'POST', '/v1/models/iris:predict', { inputs });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(message);
  });

  it('an input name the model does not have: 400 on v1 (it was used as the first input) and on v2 with content_type np', async () => {
    const v1 = await call(app.predict, 'POST', '/v1/models/iris:predict', { inputs: { foo: [[5.1, 3.5, 1.4, 0.2]] } });
    expect(v1.statusCode).toBe(400);
    expect(v1.body.error).toMatch(/^inputs: unknown input\(s\) foo: the model takes features, or feature columns sepal_length, sepal_width, petal_length, petal_width/);
    const v2 = await call(app.predict, 'POST', '/v2/models/iris/infer', {
      inputs: [{ name: 'foo', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2], parameters: { content_type: 'np' } }],
    });
    expect(v2.statusCode).toBe(400);
    expect(v2.body.error).toMatch(/unknown input\(s\) foo: the model takes features/);
  });
});

describe('messages name what the client sent', () => {
  it.each([
    [
      'a BYTES value that is null',
      '/v2/models/spam/infer',
      { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [null] }] },
      /^inputs\[0\] \(text\)\.data\[0\]: expected a number or a string, got null/,
    ],
    [
      'an empty columnar object (no "instances" was sent)',
      '/v1/models/iris:predict',
      { inputs: {} },
      /^inputs: is empty: send the model's inputs by name \(features\) or its feature columns/,
    ],
    [
      'a BYTES input whose shape is a row of the raw tensor, not a column of texts (it was taken as 1000 texts)',
      '/v2/models/spam/infer',
      { inputs: [{ name: 'bag_of_words', shape: [1, 1000], datatype: 'BYTES', data: Array.from({ length: 1000 }, () => 'x') }] },
      /^inputs\[0\] \(bag_of_words\): shape \[1,1000\] is not a column of text instances: model spam takes them one a row, shape \[N\] or \[N, 1\], or raw tensors \(bag_of_words as float32 \[-1,1000\]\)$/,
    ],
    [
      'texts by content type in a shape of two columns',
      '/v2/models/spam/infer',
      { inputs: [{ name: 'text', shape: [2, 2], datatype: 'BYTES', data: ['a', 'b', 'c', 'd'], parameters: { content_type: 'str' } }] },
      /^inputs\[0\] \(text\): shape \[2,2\] is not a column of text instances/,
    ],
    [
      'a BYTES input of no values',
      '/v2/models/spam/infer',
      { inputs: [{ name: 'text', shape: [0], datatype: 'BYTES', data: [] }] },
      /^input text: has no values: send at least one instance/,
    ],
    [
      'a request content_type that is not a string (it was named parameters.parameters.content_type)',
      '/v2/models/iris/infer',
      { ...fp32([5.1, 3.5, 1.4, 0.2]), parameters: { content_type: 5 } },
      /^parameters\.content_type: expected a string, got 5$/,
    ],
    [
      "an input's content_type that is not a string",
      '/v2/models/iris/infer',
      { inputs: [{ ...fp32([5.1, 3.5, 1.4, 0.2]).inputs[0], parameters: { content_type: true } }] },
      /^inputs\[0\]\.parameters\.content_type: expected a string, got true$/,
    ],
  ])('%s: 400 naming it', async (_case, path, body, message) => {
    const answer = await call(app.predict, 'POST', path, body);
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(message);
  });
});
