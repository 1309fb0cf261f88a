/**
 * Models whose signature fixes the batch size (MoveNet's [1, 192, 192, 3], EfficientPose's, an SSD's
 * [1, -1, -1, 3]): every request of more than one instance was a 400 "shape [2,3] does not fit the
 * model's [1,3]", a shape the service had built itself. Rows now run in calls of the batch size,
 * the last padded with copies of its last row and the padding's outputs dropped: predict, infer,
 * evaluate and explain answer what one-instance requests answer, row by row, with no tensor left.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { writeFixedBatchModel, writeNmsModel } from '../helpers/handWrittenGraphs.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let storeUri: string;
const ROWS = [
  [1, 0, 2],
  [-1, 3, 0.5],
  [0.2, -2, 1],
];

beforeAll(async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeFixedBatchModel(1), 'one', { labels: ['a', 'b'] });
  await pushModelFolder(store, await writeFixedBatchModel(2), 'two', { labels: ['a', 'b'] });
  await pushModelFolder(store, await writeNmsModel(), 'nms', { task: 'regression' });
  app = serving(store.uri);
  storeUri = store.uri;
});

/** Each row predicted alone (a request of one instance, which the model's batch of 1 always took). */
async function onePerRequest(model: string): Promise<number[][]> {
  const answers = [];
  for (const row of ROWS) answers.push((await call(app.predict, 'POST', `/v1/models/${model}:predict`, { instances: [row], raw: true })).body.predictions[0]);
  return answers;
}

describe('a model of a fixed batch size', () => {
  it('batch 1: predict with 3 instances answers 3 rows, each what a request of that row alone answers; no tensor left', async () => {
    const alone = await onePerRequest('one');
    const before = tf.memory().numTensors;
    const together = await call(app.predict, 'POST', '/v1/models/one:predict', { instances: ROWS, raw: true });
    expect(together.statusCode, JSON.stringify(together.body)).toBe(200);
    expect(together.body.predictions).toEqual(alone);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('batch 1: infer with a [3, 3] tensor answers [3, 2]; a tensor whose rows do not fit is still a 400 naming the shapes', async () => {
    const answer = await call(app.predict, 'POST', '/v2/models/one/infer', { inputs: [{ name: 'x', shape: [3, 3], datatype: 'FP32', data: ROWS.flat() }] });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.outputs[0]).toMatchObject({ name: 'probs', shape: [3, 2] });
    expect(answer.body.outputs.find((o: { name: string }) => o.name === 'label').data).toHaveLength(3);
    const wrong = await call(app.predict, 'POST', '/v2/models/one/infer', { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8] }] });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body.error).toMatch(/input x: shape \[2,4\] does not fit the model's \[1,3\].*fed 1 at a time/);
  });

  it('metadata says what requests take and answers give: any number of rows (-1) where the model fixes its batch, the fixed size beside; each answer fits it', async () => {
    const fits = (shape: number[], declared: number[]) => shape.length === declared.length && shape.every((d, i) => declared[i] === -1 || declared[i] === d);
    for (const [model, batch] of [
      ['one', 1],
      ['two', 2],
    ] as const) {
      const metadata = (await call(app.metadata, 'GET', `/v2/models/${model}`)).body;
      expect(metadata.inputs[0]).toMatchObject({ name: 'x', shape: [-1, 3], parameters: { fixed_batch_size: batch } });
      expect(metadata.outputs[0]).toMatchObject({ name: 'probs', shape: [-1, 2] });
      const tfServing = (await call(app.metadata, 'GET', `/v1/models/${model}/metadata`)).body.metadata.signature_def.signature_def.serving_default;
      expect(tfServing.inputs.x.tensor_shape.dim.map((d: { size: string }) => d.size)).toEqual(['-1', '3']);
      expect(tfServing.outputs.probs.tensor_shape.dim.map((d: { size: string }) => d.size)).toEqual(['-1', '2']);
      const answer = await call(app.predict, 'POST', `/v2/models/${model}/infer`, { inputs: [{ name: 'x', shape: [3, 3], datatype: 'FP32', data: ROWS.flat() }] });
      for (const output of answer.body.outputs) {
        const declared = metadata.outputs.find((o: { name: string }) => o.name === output.name);
        expect(fits(output.shape, declared.shape), `${output.name} [${output.shape}] against [${declared.shape}]`).toBe(true);
      }
    }
    // A detector whose outputs are of a size each call decides ([1, -1] boxes kept) joins calls only
    // when they agree (a 422 otherwise, below): its declared shapes stand, one image a request.
    const nms = (await call(app.metadata, 'GET', '/v2/models/nms')).body;
    expect(nms.inputs.map((i: { shape: number[]; parameters: unknown }) => [i.shape, i.parameters])).toEqual([
      [[1, -1, 4], { fixed_batch_size: 1 }],
      [[1, -1], { fixed_batch_size: 1 }],
    ]);
    expect(nms.outputs.slice(0, 2).map((o: { shape: number[] }) => o.shape)).toEqual([
      [1, -1],
      [1, -1],
    ]);
  });

  it('batch 2: 3 instances run as two calls, the second padded; its padding is not answered', async () => {
    const alone = await onePerRequest('two');
    const together = await call(app.predict, 'POST', '/v1/models/two:predict', { instances: ROWS, raw: true });
    expect(together.statusCode, JSON.stringify(together.body)).toBe(200);
    expect(together.body.predictions).toHaveLength(3);
    for (const [i, row] of together.body.predictions.entries()) for (const [j, p] of row.entries()) expect(p).toBeCloseTo(alone[i][j], 6);
  });

  it('evaluate: 3 labelled instances are scored', async () => {
    const labels = (await onePerRequest('one')).map((p) => (p[0] >= p[1] ? 'a' : 'b'));
    const answer = await call(app.evaluate, 'POST', '/v2/models/one/evaluate', { instances: ROWS, labels });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ count: 3 });
    expect(answer.body.metrics.accuracy).toBe(1);
  });

  it('explain: saliency and kernelShap of 3 instances, each as the instance explained alone', async () => {
    for (const method of ['saliency', 'kernelShap']) {
      const extra = method === 'kernelShap' ? { nSamples: 16, background: [[0, 0, 0]], seed: 1 } : {};
      const together = await call(app.explain, 'POST', '/v2/models/two/explain', { instances: ROWS, method, ...extra });
      expect(together.statusCode, JSON.stringify(together.body)).toBe(200);
      const alone = await call(app.explain, 'POST', '/v2/models/two/explain', { instances: [ROWS[2]], method, ...extra });
      expect(alone.statusCode, JSON.stringify(alone.body)).toBe(200);
      const [last] = alone.body.data.explanations;
      const third = together.body.data.explanations[2];
      expect(third.score).toBeCloseTo(last.score, 6);
      for (const [j, a] of third.attributions.entries()) expect(a).toBeCloseTo(last.attributions[j], 5);
    }
  });

  it('explain plans a padded call as the whole batch it is: under a budget one row fits, batch 1 is answered and batch 2 (one row sent, two fed) is a 413 naming the call', async () => {
    // A forward row of these models is about 28 bytes of tensors, a padded call of 2 about 52.
    const tight = serving(storeUri, { MEMORY_BUDGET_BYTES: '40' });
    const request = { instances: [ROWS[0]], method: 'kernelShap', nSamples: 16, background: [[0, 0, 0]], seed: 1 };
    for (const model of ['one', 'two']) expect((await call(tight.metadata, 'GET', `/v2/models/${model}`)).statusCode).toBe(200); // weights loaded
    const before = tf.memory().numTensors;
    const one = await call(tight.explain, 'POST', '/v2/models/one/explain', request);
    expect(one.statusCode, JSON.stringify(one.body)).toBe(200);
    const two = await call(tight.explain, 'POST', '/v2/models/two/explain', request);
    expect(two.statusCode).toBe(413);
    expect(two.body.error).toMatch(
      /^one call of 2 rows \(the model's fixed batch size\) of a forward pass through two:1 needs .*this function can give .* \(MEMORY_BUDGET_BYTES\)/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a detector whose outputs per image differ in size: 2 images with as many boxes kept are joined; with different counts, a 422 (not a 500) saying to send one', async () => {
    // Boxes 0 and 1 overlap (IoU 0.82): one is kept of the two; box 2 stands alone.
    const boxes = [0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 2, 1, 3];
    const infer = (scores: number[][]) =>
      call(app.predict, 'POST', '/v2/models/nms/infer', {
        inputs: [
          { name: 'boxes', shape: [2, 3, 4], datatype: 'FP32', data: [...boxes, ...boxes] },
          { name: 'scores', shape: [2, 3], datatype: 'FP32', data: scores.flat() },
        ],
      });
    const joined = await infer([
      [0.9, 0.8, 0.7],
      [0.8, 0.9, 0.6],
    ]);
    expect(joined.statusCode, JSON.stringify(joined.body)).toBe(200);
    expect(joined.body.outputs[0]).toMatchObject({ name: 'selected', shape: [2, 2], data: [0, 2, 1, 2] });
    const before = tf.memory().numTensors;
    const differing = await infer([
      [0.9, 0.8, 0.7],
      [0.9, 0.8, 0.1],
    ]);
    expect(differing.statusCode).toBe(422);
    expect(differing.body.error).toMatch(
      /output selected of nms:1 is not one row per instance \(it answered shape \[1,1\] for 1 of them, \[1,2\] for 1\).*fixed batch size, 1.*send 1 instance/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
