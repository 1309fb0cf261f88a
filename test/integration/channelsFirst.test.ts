/**
 * Image models that take their rows channels first ([rows, 3, H, W], as models converted from
 * PyTorch do: human's nanodet): `layout: chw` encodes the same pixels in that order, so the model
 * answers, and explanations and previews read, what its channels-last twin does; the model's own
 * pipeline (TF.js: resizeBilinear, scale, transpose to NCHW) gives the same tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { loadWrittenGraph, writeChannelsFirstImageModel, writeFixedBatchImageModel } from '../helpers/handWrittenGraphs.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let chwFolder: string;
/** 3 x 3 pixels, each channel its own: resizing to 2 x 2 mixes neighbours, a transposition would show. */
const rgb = (x: number, y: number): [number, number, number] => [40 * x + 7, 60 * y + 3, 25 * (x + y) + 1];
const picture = b64(pngBytes(3, 3, (x, y) => [...rgb(x, y), 255]));
const image = { kind: 'image', width: 2, height: 2, channels: 3 };
const labels = ['a', 'b'];

beforeAll(async () => {
  const store = await tempFolderStore();
  chwFolder = await writeChannelsFirstImageModel();
  await pushModelFolder(store, await writeFixedBatchImageModel(-1), 'hwc', { labels, transforms: { input: image } });
  await pushModelFolder(store, chwFolder, 'chw', { labels, transforms: { input: { ...image, layout: 'chw' } } });
  app = serving(store.uri);
});

it('a push without the layout is refused, saying the model takes channels first, whether its sides are fixed or open', async () => {
  const store = await tempFolderStore();
  await expect(pushModelFolder(store, chwFolder, 'chw', { labels, transforms: { input: image } })).rejects.toThrow(
    'the image preprocessing makes rows of shape [2,2,3], but input x takes [3,2,2]: it takes channels first (layout chw: modelctl push --layout chw)',
  );
  // Open sides: the trial example is not made of a row the input's fixed channels refuse (it was fed [1, 3, 2, 3]).
  const open = await writeChannelsFirstImageModel('open');
  await expect(pushModelFolder(store, open, 'open', { labels, transforms: { input: image } })).rejects.toThrow(
    'the image preprocessing makes rows of shape [2,2,3], but input x takes [3,-1,-1] (-1 = any size): it takes channels first (layout chw: modelctl push --layout chw)',
  );
  await expect(pushModelFolder(store, open, 'open', { labels, transforms: { input: { ...image, layout: 'chw' } } })).resolves.toMatchObject({ version: 1 });
});

it("encodes an image as the model's own pipeline does (TF.js, transposed to NCHW), and answers what TF.js answers on it", async () => {
  const shown = await call(app.predict, 'POST', '/v2/models/chw/preprocess', { instances: [picture] });
  expect(shown.statusCode, JSON.stringify(shown.body)).toBe(200);
  const [tensor] = shown.body.outputs;
  expect(tensor.shape).toEqual([1, 3, 2, 2]);
  const pixels = Array.from({ length: 9 }, (_, i) => rgb(i % 3, Math.floor(i / 3))).flat();
  const own = tf.tidy(() => tf.transpose(tf.div(tf.image.resizeBilinear(tf.tensor4d(pixels, [1, 3, 3, 3]), [2, 2]), 255), [0, 3, 1, 2]));
  const expected = Array.from(own.dataSync());
  own.dispose();
  tensor.data.forEach((v: number, i: number) => expect(v).toBeCloseTo(expected[i], 6));

  const model = await loadWrittenGraph(chwFolder);
  const reference = tf.tidy(() => Array.from((model.predict(tf.tensor4d(tensor.data, [1, 3, 2, 2])) as tf.Tensor).dataSync()));
  model.dispose();
  const answered = await call(app.predict, 'POST', '/v1/models/chw:predict', { instances: [picture], raw: true });
  expect(answered.statusCode).toBe(200);
  answered.body.predictions[0].forEach((v: number, i: number) => expect(v).toBeCloseTo(reference[i], 6));
});

it('answers, explains (saliency and kernelShap heatmaps) and previews as its channels-last twin', async () => {
  const both = (path: (m: string) => string, body: unknown, handler: keyof App = 'predict') =>
    Promise.all(['hwc', 'chw'].map((m) => call(app[handler] as Parameters<typeof call>[0], 'POST', path(m), body)));
  const [hwc, chw] = await both((m) => `/v1/models/${m}:predict`, { instances: [picture] });
  expect(chw.body.predictions).toEqual(hwc.body.predictions);
  for (const method of ['saliency', 'kernelShap']) {
    const [a, b] = await both((m) => `/v2/models/${m}/explain`, { instances: [picture], method, format: 'png' }, 'explain');
    expect(b.statusCode, JSON.stringify(b.body)).toBe(200);
    expect(b.body.data.explanations[0].heatmap).toEqual(a.body.data.explanations[0].heatmap);
    expect(b.body.data.explanations[0].png).toBe(a.body.data.explanations[0].png);
  }
  const [previewA, previewB] = await both((m) => `/v2/models/${m}/preprocess?format=png`, { instances: [picture] });
  expect(previewB.statusCode).toBe(200);
  expect(previewB.body).toEqual(previewA.body);
});

it('a raw channels-first model (no image settings) is explained as its channels-last twin: its [3, H, W] rows are read channels first, not as 3 rows of H pixels', async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeFixedBatchImageModel(-1), 'hwc', { labels });
  await pushModelFolder(store, chwFolder, 'chw', { labels });
  const raw = serving(store.uri);
  // One instance, channels last ([2][2][3]) and the same values channels first ([3][2][2]).
  const hwc = [0, 1].map((y) => [0, 1].map((x) => rgb(x, y).map((v) => v / 255)));
  const chw = [0, 1, 2].map((c) => [0, 1].map((y) => [0, 1].map((x) => hwc[y][x][c])));
  for (const method of ['saliency', 'kernelShap']) {
    const [a, b] = await Promise.all(
      [
        ['hwc', hwc],
        ['chw', chw],
      ].map(([m, instance]) => call(raw.explain, 'POST', `/v2/models/${m}/explain`, { instances: [instance], method, format: 'png' })),
    );
    expect(b.statusCode, JSON.stringify(b.body)).toBe(200);
    const [ea, eb] = [a.body.data.explanations[0], b.body.data.explanations[0]];
    expect(eb.heatmap).toHaveLength(2);
    expect(eb.heatmap).toEqual(ea.heatmap);
    expect(eb.png).toBe(ea.png);
  }
});
