/**
 * TF Serving REST `:classify` and `:regress` (api_rest.md) on the demo models, through the predict
 * handler as API Gateway delivers them: each example is read as `:predict` reads the same instance,
 * so the scores and values equal `:predict`'s (to the float32 TF Serving writes); the answer is
 * TF Serving's `{"results": ...}` (the key its server writes; api_rest.md says `result`), and bad input a 400 `{"error": ...}` naming what is wrong, with
 * no tensor left behind.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { uniform } from '../../lib/random.js';
import { callHttpApi, httpApiEvent, serving, type App } from '../helpers/serving.js';

let app: App;
beforeAll(() => (app = serving(new URL('../../models', import.meta.url).href)));

const post = (path: string, body: unknown) => callHttpApi(app.predict, 'POST', path, JSON.stringify(body));

const IRIS = [
  { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
  { sepal_length: 6.3, sepal_width: 2.8, petal_length: 5.1, petal_width: 1.5 },
  { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 },
];
const SPAM = ['WIN a FREE prize now! Click here to claim your cash', 'Are we still meeting for lunch tomorrow?'];
const SEVEN = { b64: (await readFile('examples/seven.png')).toString('base64') };
const HOUSES = [
  { crim: 0.027, zn: 0, indus: 7.07, chas: 0, nox: 0.469, rm: 6.42, age: 78.9, dis: 4.97, rad: 2, tax: 242, ptratio: 17.8, lstat: 9.14 },
  { crim: 3.5, zn: 0, indus: 18.1, chas: 1, nox: 0.7, rm: 5.5, age: 95, dis: 1.8, rad: 24, tax: 666, ptratio: 20.2, lstat: 22 },
];

/** `:predict`'s answer per instance as [label, score] in the model's class order (its scores come ranked). */
async function predictedClasses(model: string, instances: unknown[], labels: string[]): Promise<[string, number][][]> {
  const answer = await post(`/v1/models/${model}:predict`, { instances });
  expect(answer.statusCode).toBe(200);
  return answer.body.predictions.map((p: { scores: { label: string; score: number }[] }) =>
    labels.map((label) => [label, Math.fround(p.scores.find((s) => s.label === label)!.score)]),
  );
}

const float32 = (result: [string, number][][]) => result.map((classes) => classes.map(([label, score]) => [label, Math.fround(score)]));

describe(':classify equals :predict on the same rows', () => {
  it('iris (tabular features), every class in label order', async () => {
    const answer = await post('/v1/models/iris:classify', { examples: IRIS });
    expect(answer.statusCode).toBe(200);
    expect(float32(answer.body.results)).toEqual(await predictedClasses('iris', IRIS, ['setosa', 'versicolor', 'virginica']));
  });

  it('iris with features in "context" and values as lists of one, by version and by alias', async () => {
    const examples = IRIS.map(({ sepal_length, sepal_width, petal_length, petal_width }) => ({ sepal_length: [sepal_length], sepal_width, petal_length, petal_width }));
    const expected = await predictedClasses('iris', IRIS, ['setosa', 'versicolor', 'virginica']);
    for (const path of ['/v1/models/iris/versions/1:classify', '/v1/models/iris/labels/production:classify']) {
      const answer = await post(path, { signature_name: 'serving_default', examples });
      expect(float32(answer.body.results)).toEqual(expected);
    }
    // One row with a feature shared through the context.
    const { sepal_width, ...rest } = IRIS[0];
    const shared = await post('/v1/models/iris:classify', { context: { sepal_width }, examples: [rest] });
    expect(float32(shared.body.results)).toEqual([expected[0]]);
  });

  it('spam (text): both classes of the binary model', async () => {
    const answer = await post('/v1/models/spam:classify', { examples: SPAM.map((text) => ({ text })) });
    expect(answer.statusCode).toBe(200);
    expect(float32(answer.body.results)).toEqual(await predictedClasses('spam', SPAM, ['ham', 'spam']));
  });

  // api_rest.md: a {"b64": ...} object may be the value of any input feature or tensor; for a text, its UTF-8 bytes.
  it('spam with its texts as {"b64": ...}, on :classify and :predict, equals the plain texts; bytes not UTF-8 are a 400', async () => {
    const b64 = (text: string) => ({ b64: Buffer.from(text).toString('base64') });
    const expected = await predictedClasses('spam', SPAM, ['ham', 'spam']);
    const classified = await post('/v1/models/spam:classify', { examples: SPAM.map((text) => ({ text: b64(text) })) });
    expect(classified.statusCode).toBe(200);
    expect(float32(classified.body.results)).toEqual(expected);
    expect(await predictedClasses('spam', SPAM.map(b64), ['ham', 'spam'])).toEqual(expected);
    const latin1 = await post('/v1/models/spam:predict', { instances: [{ b64: Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('base64') }] });
    expect(latin1.statusCode).toBe(400);
    expect(latin1.body.error).toMatch(/^instances\[0\]\.b64: the decoded bytes are not UTF-8 text \(a text instance is a string/);
    const notBase64 = await post('/v1/models/spam:predict', { instances: [{ b64: 'not base64!' }] });
    expect([notBase64.statusCode, notBase64.body.error]).toEqual([400, 'instances[0].b64: not valid base64']);
  });

  // api_rest.md, "JSON conformance": NaN, Infinity and -Infinity are numbers in TF Serving's requests (Python's json.dumps writes them).
  it("NaN and Infinity tokens are read as numbers, then refused where they stand; a body broken elsewhere keeps JSON's message", async () => {
    const send = (path: string, text: string) => callHttpApi(app.predict, 'POST', path, text);
    const raw = await send('/v1/models/iris:predict', '{"instances": [[5.1, 3.5, 1.4, 0.2], [5.1, 3.5, 1.4, NaN]]}');
    expect(raw.statusCode).toBe(400);
    expect(raw.body.error).toMatch(/^instances\[1\]\[3\]: NaN is not a finite number \(the model computes in finite float32\)$/);
    const feature = await send('/v1/models/iris:classify', '{"examples": [{"sepal_length": -Infinity, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}');
    expect(feature.statusCode).toBe(400);
    expect(feature.body.error).toMatch(/sepal_length must be a finite number, got -Infinity/);
    const broken = await send('/v1/models/iris:predict', '{"instances": [[5.1, 3.5, 1.4, NaN]');
    expect(broken.statusCode).toBe(400);
    expect(broken.body.error).toMatch(/^the body is not valid JSON: /);
    const finite = await send('/v1/models/iris:predict', '{"instances": [[5.1, 3.5, 1.4, 0.2]], "signature_name": "NaN"}');
    expect(finite.statusCode).toBe(400);
    expect(finite.body.error).toMatch(/signature_name/);
  });

  it('digits (an image as {"b64": ...}, alone or as a list of one)', async () => {
    const answer = await post('/v1/models/digits:classify', { examples: [{ image: SEVEN }, { image: [SEVEN] }] });
    expect(answer.statusCode).toBe(200);
    const [expected] = await predictedClasses('digits', [SEVEN], [...'0123456789']);
    expect(float32(answer.body.results)).toEqual([expected, expected]);
  });
});

describe(':regress', () => {
  it("equals :predict's values on housing, written as TF Serving writes floats", async () => {
    const answer = await callHttpApi(app.predict, 'POST', '/v1/models/housing:regress', JSON.stringify({ examples: HOUSES }));
    expect(answer.statusCode).toBe(200);
    const predicted = (await post('/v1/models/housing:predict', { instances: HOUSES })).body.predictions.map((p: { value: number }) => p.value);
    expect(answer.body.results.map(Math.fround)).toEqual(predicted);
    // WriteDecimal<float>: the shortest of 6 or 9 significant digits that reads back as the float.
    const raw = (await app.predict(httpApiEvent('POST', '/v1/models/housing:regress', JSON.stringify({ examples: HOUSES })))) as { body: string };
    const texts = /^\{"results":\[(.*)\]\}$/.exec(raw.body)![1].split(',');
    texts.forEach((text, i) => {
      expect(Math.fround(Number(text))).toBe(predicted[i]);
      expect(text.replace(/^-/, '').replace('.', '').replace(/^0+/, '').length).toBeLessThanOrEqual(9);
    });
  });
});

describe('refusals: a 400 naming what is wrong, TF Serving error body, no tensor left', () => {
  it.each([
    ['classify on a regression model', '/v1/models/housing:classify', { examples: HOUSES }, /regression model: :classify needs a classifier/],
    ['regress on a classifier', '/v1/models/iris:regress', { examples: IRIS }, /classification model: :regress needs a regression model/],
    ['regress on a binary classifier', '/v1/models/spam:regress', { examples: [{ text: SPAM[0] }] }, /binary model/],
    ['an unknown feature', '/v1/models/iris:classify', { examples: [{ ...IRIS[0], petal_colour: 1 }] }, /examples\[0\]: unknown feature\(s\) petal_colour/],
    ['a missing feature', '/v1/models/iris:classify', { examples: [IRIS[0], { sepal_length: 1, sepal_width: 1, petal_length: 1 }] }, /examples\[1\]: missing petal_width/],
    ['a string for a number', '/v1/models/iris:classify', { examples: [{ ...IRIS[0], sepal_length: 'long' }] }, /sepal_length must be a finite number/],
    ['a list of several values', '/v1/models/iris:classify', { examples: [{ ...IRIS[0], sepal_length: [1, 2] }] }, /examples\[0\]\.sepal_length: a list of 2 values/],
    ['empty examples', '/v1/models/iris:classify', { examples: [] }, /examples: is empty/],
    ['no examples', '/v1/models/iris:classify', { context: IRIS[0] }, /examples/],
    ['an example not an object', '/v1/models/iris:classify', { examples: [[5.1, 3.5, 1.4, 0.2]] }, /examples\[0\]/],
    [
      'context clashing with an example',
      '/v1/models/iris:classify',
      { context: { sepal_length: 5 }, examples: IRIS },
      /examples\[0\]: feature\(s\) sepal_length also in "context"/,
    ],
    ['a feature named as an object property', '/v1/models/iris:classify', { context: {}, examples: [{ ...IRIS[0], toString: 1 }] }, /examples\[0\]: unknown feature\(s\) toString/],
    // JSON.parse makes "__proto__" an own key, as a request body's JSON does; :predict reports it as unknown too.
    ['a feature named __proto__', '/v1/models/iris:classify', { examples: [{ ...IRIS[0], ...JSON.parse('{"__proto__": 1}') }] }, /examples\[0\]: unknown feature\(s\) __proto__/],
    ['a context feature named __proto__', '/v1/models/iris:classify', { context: JSON.parse('{"__proto__": 1}'), examples: IRIS }, /examples\[0\]: unknown feature\(s\) __proto__/],
    ['a feature dictionary that is a string', '/v1/models/iris:classify', { examples: ['5.1,3.5,1.4,0.2'] }, /examples\[0\]: expected a feature dictionary/],
    [
      'an unknown feature of a text model',
      '/v1/models/spam:classify',
      { examples: [{ body: SPAM[0] }] },
      /examples\[0\]: unknown feature\(s\) body: model spam takes one feature, "text"/,
    ],
    ['a missing feature of an image model', '/v1/models/digits:classify', { examples: [{}] }, /examples\[0\]: missing feature "image"/],
    ['a number for a text', '/v1/models/spam:classify', { examples: [{ text: 3 }] }, /examples\[0\]\.text: expected a string/],
    ['bytes that are no image', '/v1/models/digits:classify', { examples: [{ image: { b64: 'aGVsbG8gd29ybGQ=' } }] }, /examples\[0\]\.image: not a PNG or JPEG image/],
    ['another signature', '/v1/models/iris:classify', { signature_name: 'classify_x', examples: IRIS }, /"classify_x" not found/],
    ['an unknown request field', '/v1/models/iris:classify', { examples: IRIS, instances: IRIS }, /instances/],
  ])('%s', async (_case, path, body, message) => {
    await post(path, { examples: [{ text: SPAM[0] }] }); // models loaded: the baseline below is steady
    const baseline = tf.memory().numTensors;
    const answer = await post(path, body);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(400);
    expect(Object.keys(answer.body)).toEqual(['error']);
    expect(answer.body.error).toMatch(message);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('an unknown model or alias is a 404', async () => {
    expect((await post('/v1/models/nope:classify', { examples: IRIS })).statusCode).toBe(404);
    expect((await post('/v1/models/iris/labels/nope:regress', { examples: IRIS })).statusCode).toBe(404);
  });
});

describe("limits are :predict's", () => {
  it('images whose decoding cannot end before the timeout are a 413 naming the figures, before it, with no tensor left', async () => {
    const lines = (await readFile('models/_datasets/digits-test.jsonl', 'utf8')).trim().split('\n');
    const examples = lines.map((line) => ({ image: (JSON.parse(line) as { image: unknown }).image }));
    await post('/v1/models/digits:classify', { examples: examples.slice(0, 2) });
    const tensors = tf.memory().numTensors;
    // No time left after the 2 s kept to answer: the first check refuses, whatever this machine's speed.
    const deadline = Date.now() + 2_000;
    const started = performance.now();
    const answer = await app.predict(httpApiEvent('POST', '/v1/models/digits:classify', JSON.stringify({ examples })), {
      awsRequestId: 'examples-time-limit',
      getRemainingTimeInMillis: () => deadline - Date.now(),
    } as never);
    expect(answer.statusCode).toBe(413);
    expect(JSON.parse(answer.body as string).error).toMatch(
      /^encoding the examples for digits:1: 2000 examples, of which \d+ took .* this function has 0\.0 s left before its timeout/,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 60_000);
});

describe('random feature dictionaries', () => {
  const NAMES = ['sepal_length', 'petal_width', 'text', 'image', 'crim', 'rm', 'b64', ''];
  const VALUES: unknown[] = [null, true, 0, -1, 1e39, 5.1, '', 'free money', 'x'.repeat(100), [], [1], [1, 2], [[1]], { b64: 'AA==' }, SEVEN, { text: 'hi' }, {}];
  it.each([['/v1/models/iris:classify'], ['/v1/models/spam:classify'], ['/v1/models/digits:classify'], ['/v1/models/housing:regress']])(
    '%s answers 200 or 400, never 5xx, and leaks no tensor',
    async (path) => {
      const random = uniform(11);
      const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
      const dictionary = () => Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(NAMES), pick(VALUES)]));
      await post(path, { examples: [{}] }); // loads the model
      const baseline = tf.memory().numTensors;
      for (let i = 0; i < 40; i += 1) {
        const body = { ...(random() < 0.3 ? { context: dictionary() } : {}), examples: Array.from({ length: 1 + Math.floor(random() * 3) }, dictionary) };
        const answer = await post(path, body);
        expect([200, 400], `${JSON.stringify(body).slice(0, 300)} -> ${JSON.stringify(answer.body).slice(0, 300)}`).toContain(answer.statusCode);
        if (answer.statusCode === 400) expect(answer.body.error).toMatch(/examples|context/);
      }
      expect(tf.memory().numTensors).toBe(baseline);
    },
  );
});
