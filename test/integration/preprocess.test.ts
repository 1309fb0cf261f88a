/**
 * POST /v2/models/{m}/preprocess: the tensors the model would receive, and for an image model a
 * PNG of what it sees. A wide picture under `fit: cover` must come back as its centred crop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { b64, pngBytes, pngWithData, type Painter } from '../helpers/images.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeImageModel } from '../helpers/tinyModels.js';

/** 16 x 8: four 4-pixel-wide bands, red, green, blue, white. */
const bands: Painter = (x) =>
  [
    [255, 0, 0, 255],
    [0, 255, 0, 255],
    [0, 0, 255, 255],
    [255, 255, 255, 255],
  ][Math.floor(x / 4)] as [number, number, number, number];

let app: App;
beforeAll(async () => {
  const store = await tempFolderStore();
  const input = { kind: 'image', width: 8, height: 8, channels: 3, fit: 'cover', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
  await pushModelFolder(store, await writeImageModel(8, 8, 3), 'bands', { labels: ['a', 'b'], transforms: { input } });
  app = serving(store.uri);
});

describe('/preprocess', () => {
  it('answers the normalised tensor of the centred crop', async () => {
    const answer = await call(app.predict, 'POST', '/v2/models/bands/preprocess', { instances: [b64(pngBytes(16, 8, bands))] });
    expect(answer.statusCode).toBe(200);
    const [tensor] = answer.body.outputs;
    expect(tensor.shape).toEqual([1, 8, 8, 3]);
    // Columns 4..11 of the picture: green then blue; (1 - 0.5) / 0.25 = 2 and (0 - 0.5) / 0.25 = -2.
    expect(tensor.data.slice(0, 3)).toEqual([-2, 2, -2]);
    expect(tensor.data.slice(7 * 3, 8 * 3)).toEqual([-2, -2, 2]);
  });

  it('answers a PNG of the crop, in colour, as the model sees it', async () => {
    const result = await app.predict({ method: 'POST', path: '/v2/models/bands/preprocess?format=png', body: { instances: [b64(pngBytes(16, 8, bands))] } });
    expect(result.headers['content-type']).toBe('image/png');
    expect((result as { isBase64Encoded?: boolean }).isBase64Encoded).toBe(true);
    const png = PNG.sync.read(Buffer.from(result.body as string, 'base64'));
    expect([png.width, png.height]).toEqual([8, 8]);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) expect(Array.from(png.data.subarray((y * 8 + x) * 4, (y * 8 + x) * 4 + 4))).toEqual(bands(x + 4, y));
    }
  });

  it('refuses a PNG of several instances, and of a model that takes no images', async () => {
    const two = await call(app.predict, 'POST', '/v2/models/bands/preprocess?format=png', { instances: [b64(pngBytes(16, 8, bands)), b64(pngBytes(16, 8, bands))] });
    expect(two.statusCode).toBe(400);
    expect(two.body.error).toMatch(/one instance/);
    const none = tf.memory().numTensors;
    const bad = await call(app.predict, 'POST', '/v2/models/bands/preprocess', { instances: [{ b64: 'not an image' }] });
    expect(bad.statusCode).toBe(400);
    expect(tf.memory().numTensors).toBe(none);
  });

  it("refuses raw tensors predict refuses, with predict's message (it answered them, and drew a PNG from 3 values)", async () => {
    const demo = serving('file://models');
    for (const path of ['/v2/models/iris/preprocess', '/v2/models/digits/preprocess?format=png']) {
      const answer = await demo.predict({ method: 'POST', path, body: { instances: [[1, 2, 3]] } });
      const predicted = await call(demo.predict, 'POST', path.replace(/preprocess.*$/, 'infer').replace('/infer', '/infer'), {
        inputs: [{ name: path.includes('iris') ? 'features' : 'image', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }],
      });
      expect(answer.statusCode, path).toBe(400);
      expect(predicted.statusCode, path).toBe(400);
      expect((answer.body as { error: string }).error).toMatch(/shape \[1,3\] does not fit the model's/);
    }
  });

  it('answers a PNG whose image data is short with the same 400 every time, never with pixels from stale memory', async () => {
    const demo = serving('file://models');
    expect((await call(demo.predict, 'POST', '/v1/models/digits:predict', { instances: [b64(pngBytes(28, 28, () => [0, 0, 0, 255]))] })).statusCode).toBe(200);
    const none = tf.memory().numTensors; // the model loaded
    // A 28 x 28 grey PNG whose data holds 1 row: pngjs unfiltered the other 27 from whatever its buffer last held.
    const oneRow = b64(pngWithData(28, 28, new Uint8Array(29)));
    const errors = new Set<string>();
    for (const path of ['/v2/models/digits/preprocess', '/v2/models/digits/preprocess', '/v2/models/digits/preprocess', '/v2/models/digits/preprocess?format=png']) {
      const answer = await call(demo.predict, 'POST', path, { instances: [oneRow] });
      expect(answer.statusCode, path).toBe(400);
      errors.add(answer.body.error);
    }
    expect([...errors]).toEqual(['instances[0]: corrupt PNG (truncated: its image data holds 29 of 812 bytes)']);
    // A digit stroke cut after 10 of its 28 rows was once predicted a confident 8.
    const stroke = Uint8Array.from({ length: 10 * 29 }, (_, i) => (i % 29 > 11 && i % 29 < 17 ? 255 : 0)); // filter byte 0, then a stroke
    for (let i = 0; i < 3; i++) {
      const predicted = await call(demo.predict, 'POST', '/v1/models/digits:predict', { instances: [b64(pngWithData(28, 28, stroke))] });
      expect(predicted.statusCode).toBe(400);
      expect(predicted.body.error).toBe('instances[0]: corrupt PNG (truncated: its image data holds 290 of 812 bytes)');
    }
    expect(tf.memory().numTensors).toBe(none);
  });
});
