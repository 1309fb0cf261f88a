/**
 * A request field that takes one of several forms (explain's `target` and `baseline`, fine-tune's
 * `validation` and `config.trainableLayers`), sent in none of them, is a 400 naming the field and the
 * forms it takes, not zod's bare "Invalid input". Through the handlers as API Gateway delivers them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { callHttpApi, serving, type App } from '../helpers/serving.js';

const IRIS = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const TRAIN = { instances: [IRIS, IRIS], labels: ['setosa', 'setosa'] };

let app: App;
beforeAll(() => (app = serving(new URL('../../models', import.meta.url).href)));

describe('a field of several forms sent in none of them', () => {
  it.each([
    [
      'explain',
      '/v2/models/iris/explain',
      { instances: [IRIS], target: true },
      /^target: expected a class index \(a whole number from 0\) or a label; on a regression model, an output index$/,
    ],
    ['explain', '/v2/models/iris/explain', { instances: [IRIS], target: 1.5 }, /^target: expected a class index/],
    [
      'explain',
      '/v2/models/iris/explain',
      { instances: [IRIS], baseline: [[1, 2, 3, 4]] },
      /^baseline: expected "zeros", "mean", one natural instance or one flat row of numbers$/,
    ],
    ['explain', '/v2/models/iris/explain', { instances: [IRIS], baseline: [IRIS, IRIS] }, /^baseline: expected "zeros", "mean", one natural instance/],
    [
      'fineTune',
      '/v2/models/iris/fine-tune',
      { ...TRAIN, validation: { split: 1.5 } },
      /^validation: expected \{"split": a fraction between 0 and 1, both excluded\} or labelled data/,
    ],
    ['fineTune', '/v2/models/iris/fine-tune', { ...TRAIN, validation: 0.2 }, /^validation: expected \{"split"/],
    [
      'fineTune',
      '/v2/models/iris/fine-tune',
      { ...TRAIN, config: { trainableLayers: 'some' } },
      /^config\.trainableLayers: expected "all", \{"last": N\} \(N a whole number from 1\) or a list of layer names$/,
    ],
    ['fineTune', '/v2/models/iris/fine-tune', { ...TRAIN, config: { trainableLayers: 2 } }, /^config\.trainableLayers: expected "all"/],
  ] as const)('%s %s %j', async (handler, path, body, message) => {
    const answer = await callHttpApi(app[handler], 'POST', path, JSON.stringify(body));
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(message);
    expect(answer.body.error).not.toMatch(/Invalid input/);
  });
});

describe("explain's baseline is one value, named without an index", () => {
  it.each([
    ['iris', { instances: [IRIS], baseline: { ...IRIS, sepal_length: 'x' } }, /^baseline: sepal_length must be a finite number, got "x"/],
    ['iris', { instances: [IRIS], baseline: { sepal_length: 1 } }, /^baseline: missing sepal_width, petal_length, petal_width/],
    ['spam', { instances: ['free money'], baseline: { text: 5 } }, /^baseline is neither an instance model spam takes nor a raw tensor row/],
  ])('%s %j', async (model, body, message) => {
    const answer = await callHttpApi(app.explain, 'POST', `/v2/models/${model}/explain`, JSON.stringify(body));
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(message);
    expect(answer.body.error).not.toMatch(/baseline\[0\]/);
  });
});
