/**
 * Explanations of models whose signature fixes the batch size (MoveNet's [1, 192, 192, 3], the TF
 * object-detection models' [1, -1, -1, 3]): the explainers' rows (instances, background rows,
 * coalitions, path points, noisy copies) are fed in calls of that many rows, a shorter call padded,
 * so any number of instances and background rows is explained, as by the same model with a free
 * batch. Such a model once failed every explanation with a 500 (TF.js refused the batch of rows).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { writeFixedBatchImageModel, writeInt32ImageModel } from '../helpers/handWrittenGraphs.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
const pictures = [0, 1].map((k) => b64(pngBytes(2, 2, (x, y) => [40 * x + 7 + 30 * k, 60 * y + 3, 25 * (x + y) + 1 + 50 * k, 255])));
const background = [b64(pngBytes(2, 2, () => [90, 90, 90, 255])), b64(pngBytes(2, 2, (x) => [200 * x, 20, 120, 255]))];
/** Raw rows [2][2][3] of whole numbers (an int32 input takes no fractions). */
const rawRow = (k: number) => [0, 1].map((y) => [0, 1].map((x) => [3 * x + k, 5 * y - k, 7 * (x + y) + 2 * k]));
const rawInstances = [rawRow(1), rawRow(4), rawRow(9)];
const rawBackground = [rawRow(0), rawRow(-3)];

beforeAll(async () => {
  const store = await tempFolderStore();
  const image = { kind: 'image', width: 2, height: 2, channels: 3, fit: 'stretch', resize: 'bilinear' };
  // A push refuses a natural input kind for a batch other than 1 or free: batch 2 takes raw rows.
  for (const batch of [-1, 1]) {
    await pushModelFolder(store, await writeInt32ImageModel(batch), `int32-${batch}`, { labels: ['a', 'b'], transforms: { input: { ...image, scale: 1 } } });
    await pushModelFolder(store, await writeFixedBatchImageModel(batch), `float-${batch}`, { labels: ['a', 'b'], transforms: { input: image } });
  }
  for (const batch of [-1, 2]) {
    await pushModelFolder(store, await writeInt32ImageModel(batch), `raw-int32-${batch}`, { labels: ['a', 'b'] });
    await pushModelFolder(store, await writeFixedBatchImageModel(batch), `raw-float-${batch}`, { labels: ['a', 'b'] });
  }
  app = serving(store.uri);
});

/** An answer's explanations and predictions, numbers to 6 decimals (the batch a row ran in may change the last bits). */
async function explained(model: string, request: object): Promise<unknown> {
  const answer = await call(app.explain, 'POST', `/v2/models/${model}/explain`, request);
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  const { data, predictions } = answer.body;
  return JSON.parse(JSON.stringify({ data, predictions }, (_key, value) => (typeof value === 'number' ? Number(value.toFixed(6)) : value)));
}

const METHODS = [{ method: 'kernelShap' }, { method: 'saliency' }, { method: 'integratedGradients', steps: 7 }, { method: 'smoothGrad', samples: 5 }];

describe('a batch size the signature fixes: the explanations of the same model with a free batch', () => {
  it('batch 1, natural images: kernelShap on an int32 model with a background of two images, every method on a float32 one, two instances', async () => {
    const request = { instances: pictures, method: 'kernelShap', background };
    expect(await explained('int32-1', request)).toEqual(await explained('int32--1', request));
    for (const method of METHODS) {
      const each = { instances: pictures, ...method };
      expect(await explained('float-1', each), method.method).toEqual(await explained('float--1', each));
    }
  });

  it('batch 2, raw rows: three instances and odd row counts (a last call padded), kernelShap on int32, every method on float32', async () => {
    const request = { instances: rawInstances, method: 'kernelShap', background: rawBackground };
    expect(await explained('raw-int32-2', request)).toEqual(await explained('raw-int32--1', request));
    for (const method of METHODS) {
      const each = { instances: rawInstances, ...method };
      expect(await explained('raw-float-2', each), method.method).toEqual(await explained('raw-float--1', each));
    }
  });
});
