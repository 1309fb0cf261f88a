/**
 * An image or text instance given as an object holds its one key ({"b64"}, {"image": {"b64"}},
 * {"text"}): in TF Serving's rows a key names a model input, and these models take one. A second
 * key (a label sent along, the model's raw input beside the image) was left out of the answer
 * without a word (a new user's trial: a 200 on the image alone); it is a 400 naming the key, on
 * every route that reads instances, and the same instance alone is answered.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, serving, type App } from '../helpers/serving.js';

const SEVEN = (await readFile('examples/seven.png')).toString('base64');
let app: App;
beforeAll(() => (app = serving(new URL('../../models', import.meta.url).href)));

const CASES = [
  ['a label beside b64', 'digits', { b64: SEVEN }, { b64: SEVEN, label: '7' }, ': unexpected key "label" beside "b64"'],
  ["the model's raw input beside image", 'digits', { image: { b64: SEVEN } }, { image: { b64: SEVEN }, conv2d_input: [1] }, ': unexpected key "conv2d_input" beside "image"'],
  ['a key beside image.b64', 'digits', { image: { b64: SEVEN } }, { image: { b64: SEVEN, note: 'x' } }, '.image: unexpected key "note" beside "b64"'],
  ['a label beside text', 'spam', { text: 'win a free prize now' }, { text: 'win a free prize now', label: 'spam' }, ': unexpected key "label" beside "text"'],
] as const;

describe('an instance object with a key beside its image or text', () => {
  it.each(CASES)('%s (%s): the instance alone is answered, with the key a 400 naming it', async (_case, model, alone, extra, named) => {
    const routes = [
      [app.predict, `/v1/models/${model}:predict`, {}],
      [app.explain, `/v2/models/${model}/explain`, { method: 'kernelShap', nSamples: 128 }],
      [app.evaluate, `/v2/models/${model}/evaluate`, { labels: [model === 'spam' ? 'spam' : '7'] }],
    ] as const;
    for (const [handler, route, rest] of routes) {
      const ok = await call(handler, 'POST', route, { instances: [alone], ...rest });
      expect(ok.statusCode, `${route}: ${JSON.stringify(ok.body)}`).toBe(200);
      const tensors = tf.memory().numTensors;
      const refused = await call(handler, 'POST', route, { instances: [alone, extra], ...rest, ...('labels' in rest ? { labels: [...rest.labels, ...rest.labels] } : {}) });
      expect(refused.statusCode, route).toBe(400);
      expect(refused.body.error, route).toContain(`instances[1]${named}`);
      expect(tf.memory().numTensors, route).toBe(tensors);
    }
  });
});
