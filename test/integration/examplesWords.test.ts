/**
 * TF Serving's :classify and :regress take `examples`: their 413s (the memory budget, the answer's
 * size, the time limit) name the examples in that word, as the client sent them, not as :predict's
 * "instances", which that request does not have. Each case through the predict handler as API
 * Gateway delivers it; no tensor is left behind.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { httpApiEvent, serving } from '../helpers/serving.js';

const MODELS = new URL('../../models', import.meta.url).href;
const IRIS = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const HOUSE = { crim: 0.027, zn: 0, indus: 7.07, chas: 0, nox: 0.469, rm: 6.42, age: 78.9, dis: 4.97, rad: 2, tax: 242, ptratio: 17.8, lstat: 9.14 };
const digitImages = (await readFile('models/_datasets/digits-test.jsonl', 'utf8'))
  .trim()
  .split('\n')
  .map((line) => ({ image: (JSON.parse(line) as { image: unknown }).image }));

/** Everything a context of features shares, and `count` empty examples: a small body for many examples. */
const many = (context: object, count: number) => ({ context, examples: Array.from({ length: count }, () => ({})) });

/** A Lambda context whose function times out `ms` from now. */
const timeout = (ms: number) => {
  const deadline = Date.now() + ms;
  return { awsRequestId: 'examples-words', getRemainingTimeInMillis: () => deadline - Date.now() };
};

describe(':classify and :regress 413s say "examples"', () => {
  it.each([
    [
      'more examples than the memory budget holds',
      { MEMORY_BUDGET_BYTES: String(2 ** 20) },
      '/v1/models/digits:classify',
      { examples: digitImages.slice(0, 1000) },
      undefined,
      /^examples: 1000 examples make [\d.]+ MB of model input .*: at most \d+ examples fit at once$/,
    ],
    [
      'a classify answer surely past the 6 MB a Lambda function returns, refused before it is built',
      {},
      '/v1/models/iris:classify',
      many(IRIS, 200_000),
      undefined,
      /^the answer would be at least [\d.]+ MB, over the [\d.]+ MB a Lambda function can return: at most \d+ of these 200000 examples fit: send \d+ at a time/,
    ],
    [
      'a classify answer found past the 6 MB once built',
      {},
      '/v1/models/iris:classify',
      many(IRIS, 150_000),
      undefined,
      /^the answer would be [\d.]+ MB, over the [\d.]+ MB a Lambda function can return: ask for less in one request \(fewer examples, /,
    ],
    [
      'more examples of a regression model than the memory budget holds',
      { MEMORY_BUDGET_BYTES: String(256 * 2 ** 10) },
      '/v1/models/housing:regress',
      many(HOUSE, 20_000),
      undefined,
      /^examples: 20000 examples make [\d.]+ MB of model input .*: at most \d+ examples fit at once$/,
    ],
    [
      'examples whose encoding cannot end before the timeout',
      {},
      '/v1/models/digits:classify',
      { examples: digitImages },
      2_000,
      /^encoding the examples for digits:1: 2000 examples, of which \d+ took .* \(\d+ of its 2000 examples\): ask for less \(fewer examples\)/,
    ],
  ])(
    '%s',
    async (_case, env, path, body, timeLeftMs, message) => {
      const app = serving(MODELS, env);
      // The model loaded and its pass measured: the tensors counted below are its weights.
      const warm = await app.predict(httpApiEvent('POST', path, JSON.stringify({ examples: body.examples.slice(0, 1), context: 'context' in body ? body.context : undefined })));
      expect(warm.statusCode, String(warm.body)).toBe(200);
      const tensors = tf.memory().numTensors;
      const event = httpApiEvent('POST', path, JSON.stringify(body));
      const answer = await app.predict(event, timeLeftMs === undefined ? undefined : (timeout(timeLeftMs) as never));
      expect(answer.statusCode, String(answer.body).slice(0, 300)).toBe(413);
      const { error } = JSON.parse(answer.body as string);
      expect(error).toMatch(message);
      expect(error).not.toMatch(/instance/);
      expect(tf.memory().numTensors).toBe(tensors);
    },
    120_000,
  );
});
