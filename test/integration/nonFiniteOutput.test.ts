/**
 * Finite inputs the model overflows on (float32 values near 3e38): its output is NaN, and no label
 * or value can be answered for the row. Every route that answers labels or values says so (422
 * naming the row) instead of an arbitrary class with a null score; raw outputs stay raw; batch
 * scoring reports the row in its errors file and scores the others; evaluate refuses to count it;
 * explain refuses an explanation of NaN (null in JSON), whatever row it came from: an instance, a
 * baseline, a background row, or a row the method made. Fine-tune: fineTuneChecks.test.ts.
 */
import { cp } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { scoreObject } from '../../lib/batch/run.js';
import { NON_FINITE_OUTPUT } from '../../lib/protocol/answers.js';
import { oneInvocation } from '../helpers/batchOptions.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
const overflow = { sepal_length: 3e38, sepal_width: 3e38, petal_length: -3e38, petal_width: 3e38 };
const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const overflowRow = [3e38, 3e38, -3e38, 3e38];

beforeAll(async () => {
  app = serving('file://models');
  // The premise: the demo model's own output for these values is NaN.
  const answer = await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [overflowRow], raw: true });
  expect(answer.statusCode).toBe(200);
  expect(answer.body.predictions[0].every(Number.isNaN)).toBe(true);
});

describe('a row whose output is not finite', () => {
  it('TF Serving predict: 422 naming the row, for natural and raw instances and the columnar form', async () => {
    const before = tf.memory().numTensors;
    for (const [body, where] of [
      [{ instances: [setosa, overflow] }, 'instances[1]'],
      [{ instances: [overflowRow], raw: false }, 'instances[0]'],
      [{ inputs: { sepal_length: [5.1, 3e38], sepal_width: [3.5, 3e38], petal_length: [1.4, -3e38], petal_width: [0.2, 3e38] } }, 'row 1'],
    ] as const) {
      const answer = await call(app.predict, 'POST', '/v1/models/iris:predict', body);
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(422);
      expect(answer.body.error).toBe(`${where}: ${NON_FINITE_OUTPUT}`);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('OIP infer: 422 when the label is asked for (it is by default); the raw output alone is answered as it is', async () => {
    const input = { name: 'features', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, ...overflowRow] };
    const labelled = await call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [input] });
    expect(labelled.statusCode).toBe(422);
    expect(labelled.body.error).toBe(`row 1: ${NON_FINITE_OUTPUT}`);
    const raw = await call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [input], outputs: [{ name: 'probabilities' }] });
    expect(raw.statusCode).toBe(200);
    expect(raw.body.outputs[0].data.slice(3).every(Number.isNaN)).toBe(true);
  });

  it('a binary model (spam) and a regression model (housing): 422, not "ham" or a null value', async () => {
    const spam = await call(app.predict, 'POST', '/v2/models/spam/infer', { inputs: [{ name: 'bag_of_words', shape: [1, 1000], datatype: 'FP32', data: Array(1000).fill(3e38) }] });
    expect(spam.statusCode, JSON.stringify(spam.body)).toBe(422);
    const housing = await call(app.predict, 'POST', '/v1/models/housing:predict', { instances: [Array(12).fill(3e38)], raw: false });
    expect(housing.statusCode, JSON.stringify(housing.body)).toBe(422);
    expect(housing.body.error).toBe(`instances[0]: ${NON_FINITE_OUTPUT}`);
  });

  it('explain: 422 before any attribution is computed', async () => {
    const answer = await call(app.explain, 'POST', '/v2/models/iris/explain', { instances: [setosa, overflow], method: 'saliency' });
    expect(answer.statusCode).toBe(422);
    expect(answer.body.error).toBe(`instances[1]: ${NON_FINITE_OUTPUT}`);
  });

  it('explain: 422 naming the baseline or the background row whose output is not finite (each was a 200 of null attributions)', async () => {
    const before = tf.memory().numTensors;
    for (const [body, where] of [
      [{ instances: [setosa], baseline: overflowRow }, 'baseline'],
      [{ instances: [setosa], baseline: overflow }, 'baseline'],
      [{ instances: [setosa], method: 'kernelShap', background: [[5.1, 3.5, 1.4, 0.2], overflowRow] }, 'background[1]'],
      [{ instances: [setosa], method: 'kernelShap', background: [overflow] }, 'background[0]'],
    ] as const) {
      const answer = await call(app.explain, 'POST', '/v2/models/iris/explain', body);
      expect(answer.statusCode, JSON.stringify(answer.body).slice(0, 300)).toBe(422);
      expect(answer.body.error).toBe(`${where}: ${NON_FINITE_OUTPUT}`);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('explain: 422 when the rows a method makes overflow though the instance and its reference do not, never null attributions', async () => {
    // Each row alone is finite through the model; a coalition taking sepal_length from the
    // instance and sepal_width from the background is not, nor are copies with noise as wide as
    // the values (noiseLevel 1).
    const s = 3.2e37;
    const alone = await call(app.predict, 'POST', '/v1/models/iris:predict', {
      instances: [
        [-s, 0, 0, 0],
        [0, s, 0, 0],
        [s, 0, 0, -s],
      ],
      raw: true,
    });
    expect(alone.body.predictions.flat().every(Number.isFinite)).toBe(true);
    const before = tf.memory().numTensors;
    const mixed = await call(app.explain, 'POST', '/v2/models/iris/explain', {
      instances: [
        [5.1, 3.5, 1.4, 0.2],
        [-s, 0, 0, 0],
      ],
      method: 'kernelShap',
      background: [[0, s, 0, 0]],
    });
    expect(mixed.statusCode, JSON.stringify(mixed.body).slice(0, 300)).toBe(422);
    expect(mixed.body.error).toMatch(
      /^instances\[1\]: the model's output or its gradient is not a finite number .* on the instance's features mixed with the background's, so its kernelShap attributions are not finite numbers/,
    );
    const noisy = await call(app.explain, 'POST', '/v2/models/iris/explain', { instances: [[s, 0, 0, -s]], method: 'smoothGrad', noiseLevel: 1 });
    expect(noisy.statusCode, JSON.stringify(noisy.body).slice(0, 300)).toBe(422);
    expect(noisy.body.error).toMatch(/^instances\[0\]: .* on the instance's noisy copies, so its smoothGrad attributions are not finite numbers/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('evaluate: 422 naming the row as the data names it (its line in a data set), not metrics that count an arbitrary class', async () => {
    const answer = await call(app.evaluate, 'POST', '/v2/models/iris/evaluate', { instances: [setosa, overflow], labels: ['setosa', 'setosa'] });
    expect(answer.statusCode).toBe(422);
    expect(answer.body.error).toBe(`instances[1]: ${NON_FINITE_OUTPUT}`);
    const store = await tempFolderStore();
    await cp('models', fileURLToPath(store.uri), { recursive: true });
    await store.put('_datasets/overflow.csv', 'sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n\n3e38,3e38,-3e38,3e38,setosa\n');
    const fromFile = await call(serving(store.uri).evaluate, 'POST', '/v2/models/iris/evaluate', { dataset: '_datasets/overflow.csv', labelColumn: 'species' });
    expect(fromFile.statusCode).toBe(422);
    expect(fromFile.body.error).toBe(`line 4: ${NON_FINITE_OUTPUT}`);
  });

  it.each([
    ['flowers.csv', ['sepal_length,sepal_width,petal_length,petal_width', '5.1,3.5,1.4,0.2', '3e38,3e38,-3e38,3e38', '6.7,3.0,5.2,2.3'].join('\n')],
    ['flowers.jsonl', [setosa, overflow, { ...setosa, petal_length: 5.2, petal_width: 2.3, sepal_length: 6.7 }].map((r) => JSON.stringify(r)).join('\n')],
  ])('batch %s: the row goes to the errors file with the reason, the others are scored', async (name, body) => {
    const store = await tempFolderStore();
    await store.put(`batch/input/iris/${name}`, `${body}\n`);
    const outcome = await scoreObject(store, app.services.loader, `batch/input/iris/${name}`, oneInvocation(64));
    expect(outcome.status).toBe('succeeded');
    expect(outcome.manifest?.rows).toEqual({ read: 3, scored: 2, failed: 1 });
    const errors = Buffer.from(await store.get(`batch/output/iris/${name}.errors.jsonl`))
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(errors).toEqual([expect.objectContaining({ line: name.endsWith('.csv') ? 3 : 2, error: NON_FINITE_OUTPUT })]);
  });
});
