/**
 * Bad input never yields a 5xx: random JSON (values of every type, nested, with the right field
 * names in the wrong shapes) sent to every POST route of every handler gets a 4xx or a 200, and
 * leaves no tensor behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { uniform } from '../../lib/random.js';
import { call, serving, type App, type Handler } from '../helpers/serving.js';

let app: App;

const FIELDS = [
  'instances',
  'inputs',
  'labels',
  'dataset',
  'method',
  'target',
  'steps',
  'config',
  'name',
  'shape',
  'datatype',
  'data',
  'b64',
  'sepal_length',
  'text',
  'raw',
  'top_k',
  'epochs',
  'examples',
  'context',
];

function randomValue(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return [0, -1, 1e308, -0.5, 3, 1024, 1e-9][Math.floor(random() * 7)];
    case 3:
      return ['', 'setosa', 'x'.repeat(Math.floor(random() * 200)), 'FP32', 'iVBORw0KGgo=', '../etc', 'kernelShap'][Math.floor(random() * 7)];
    case 4:
      return Math.floor(random() * 100) - 50;
    case 5:
      return 'integratedGradients';
    case 6:
      return Array.from({ length: Math.floor(random() * 5) }, () => randomValue(random, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [FIELDS[Math.floor(random() * FIELDS.length)], randomValue(random, depth + 1)]));
  }
}

const ROUTES: [string, (app: App) => Handler, string][] = [
  ['predict TF Serving', (a) => a.predict, '/v1/models/iris:predict'],
  ['predict OIP', (a) => a.predict, '/v2/models/iris/infer'],
  ['predict digits', (a) => a.predict, '/v1/models/digits:predict'],
  ['predict spam', (a) => a.predict, '/v2/models/spam/infer'],
  ['classify iris', (a) => a.predict, '/v1/models/iris:classify'],
  ['classify digits', (a) => a.predict, '/v1/models/digits:classify'],
  ['regress housing', (a) => a.predict, '/v1/models/housing:regress'],
  ['evaluate', (a) => a.evaluate, '/v2/models/iris/evaluate'],
  ['explain', (a) => a.explain, '/v2/models/iris/explain'],
  ['explain digits', (a) => a.explain, '/v2/models/digits/explain'],
  ['fine-tune', (a) => a.fineTune, '/v2/models/housing/versions/999/fine-tune'],
];

beforeAll(() => (app = serving(new URL('../../models', import.meta.url).href)));

describe('random bodies', () => {
  it.each(ROUTES)('%s never answers 5xx and leaks no tensor', async (_name, pick, path) => {
    const handler = pick(app);
    const random = uniform(7);
    // Loads the model (a body the route's schema takes): the baseline below is steady.
    await call(handler, 'POST', path, /:(classify|regress)$/.test(path) ? { examples: [{}] } : { instances: [] });
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 60; i += 1) {
      const body = randomValue(random);
      const answer = await call(handler, 'POST', path, body);
      expect(answer.statusCode, `${path} ${JSON.stringify(body)?.slice(0, 300)} -> ${JSON.stringify(answer.body)?.slice(0, 300)}`).toBeLessThan(500);
    }
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
