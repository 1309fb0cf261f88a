/**
 * What decoding and fitting one image takes (lib/inputs/image/workingMemory.ts) is checked against
 * the memory budget before a pixel is decoded: a 2048 x 2048 photo is 16 MB of RGBA and two 48 MB
 * float copies however small the model's input, and a strip letterboxed (fit contain) to a model
 * of another aspect ratio is padded to up to 100 MB. Only its model-input row was checked before,
 * so a small function ran out of memory on one large photo; now it is a 413 naming the image, the
 * bytes, what the function can give and the function that would take it. Images that fit are
 * answered as before.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { S3Event } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeImageModel } from '../helpers/tinyModels.js';

const MB = 2 ** 20;
/** The constrained app's budget: room for ordinary photos, not for a 2048 x 2048 one's 175 MB. */
const BUDGET = 64 * MB;

let store: ObjectStore;
let free: App;
let tight: App;

const paint = (x: number, y: number): [number, number, number, number] => [x & 255, y & 255, (x + y) & 255, 255];
const BIG = b64(pngBytes(2048, 2048, paint));
/** 2048 x 64: 0.5 M pixels, letterboxed to a 1:2 model it is 2048 x 4096 (8.4 M pixels, 100 MB of float RGB). */
const STRIP = b64(pngBytes(2048, 64, paint));
const SMALL = b64(pngBytes(300, 200, paint));

beforeAll(async () => {
  store = await tempFolderStore();
  const transform = (extra: object) => ({ kind: 'image', channels: 3, ...extra });
  await pushModelFolder(store, await writeImageModel(224, 224, 3), 'photo', { labels: ['a', 'b'], transforms: { input: transform({ width: 224, height: 224 }) } });
  await pushModelFolder(store, await writeImageModel(32, 64, 3), 'tall', { labels: ['a', 'b'], transforms: { input: transform({ width: 32, height: 64, fit: 'contain' }) } });
  free = serving(store.uri);
  tight = serving(store.uri, { MEMORY_BUDGET_BYTES: String(BUDGET) });
  // Weights loaded before tensors are counted.
  for (const app of [free, tight]) for (const model of ['photo', 'tall']) expect((await call(app.metadata, 'GET', `/v2/models/${model}`)).statusCode).toBe(200);
});

/** The figures of a refusal: the bytes needed (MB), the size it says fits, the fixed budget it names (the function's size would not move it). */
function figures(error: string, image: string, model: string, fit: string): { needed: number; fits: [number, number]; budgetBytes: number } {
  const pattern = new RegExp(
    `^instances\\[(\\d+)\\]: image is ${image}; decoding it and fitting it to the model's ${model} \\(fit ${fit}\\) takes (\\d+\\.\\d) MB at its peak; ` +
      `this function can give 64 MB \\(MEMORY_BUDGET_BYTES\\): scaled down to (\\d+)x(\\d+)${fit === 'contain' ? " \\(or nearer the model's aspect ratio\\)" : ''} it fits now; ` +
      `a MEMORY_BUDGET_BYTES of at least (\\d+) would take it$`,
  );
  const match = pattern.exec(error);
  expect(match, error).not.toBeNull();
  const [, , needed, width, height, budgetBytes] = (match as RegExpExecArray).map(Number);
  return { needed, fits: [width, height], budgetBytes };
}

describe('an image whose decoding does not fit the budget', () => {
  it('a 2048 x 2048 PNG is a 413 naming it, its size, the bytes, the budget and the function that would take it; no tensor left; the size it names is answered', async () => {
    const before = tf.memory().numTensors;
    const refused = await call(tight.predict, 'POST', '/v1/models/photo:predict', { instances: [SMALL, BIG] });
    expect(refused.statusCode).toBe(413);
    const { needed, fits, budgetBytes } = figures(refused.body.error, '2048x2048', '224x224', 'stretch');
    // RGBA 16 MB, the float plane and its tensor 48 MB each, pngjs's buffers: 175 MB (measured peak 150 MB).
    expect(needed).toBeGreaterThan(150);
    expect(needed).toBeLessThan(200);
    expect(Math.abs(budgetBytes / 2 ** 20 - needed)).toBeLessThan(0.1);
    expect(tf.memory().numTensors).toBe(before);

    // The same request through explain's encoding is refused alike.
    const explained = await call(tight.explain, 'POST', '/v2/models/photo/explain', { instances: [BIG], method: 'saliency' });
    expect(explained.statusCode).toBe(413);
    figures(explained.body.error, '2048x2048', '224x224', 'stretch');

    // A little under the size it says fits (a real file's size differs from its estimate): answered.
    const [width, height] = fits.map((side) => Math.floor(side * 0.95));
    const smaller = await call(tight.predict, 'POST', '/v1/models/photo:predict', { instances: [SMALL, b64(pngBytes(width, height, paint))] });
    expect(smaller.statusCode, JSON.stringify(smaller.body)).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('contain: a 2048 x 64 strip letterboxed to a 1:2 model (100 MB of padding) is a 413 naming the fit; the strip at the size it names is answered', async () => {
    const before = tf.memory().numTensors;
    const refused = await call(tight.predict, 'POST', '/v1/models/tall:predict', { instances: [STRIP] });
    expect(refused.statusCode).toBe(413);
    const { needed, fits } = figures(refused.body.error, '2048x64', '32x64', 'contain');
    expect(needed).toBeGreaterThan(100);
    const [width, height] = fits.map((side) => Math.floor(side * 0.95));
    const answer = await call(tight.predict, 'POST', '/v1/models/tall:predict', { instances: [b64(pngBytes(width, height, paint))] });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an image that fits is answered as without a budget: the same model input, bit for bit', async () => {
    const preprocess = (app: App) => call(app.predict, 'POST', '/v2/models/photo/preprocess', { instances: [SMALL] });
    const [constrained, unconstrained] = [await preprocess(tight), await preprocess(free)];
    expect(constrained.statusCode, JSON.stringify(constrained.body)).toBe(200);
    expect(constrained.body).toEqual(unconstrained.body);
    const big = await call(free.predict, 'POST', '/v1/models/photo:predict', { instances: [BIG] });
    expect(big.statusCode, JSON.stringify(big.body)).toBe(200);
  });

  it('in batch scoring, a photo that does not fit is its row error; the other rows are scored', async () => {
    const key = 'batch/input/photo/large.jsonl';
    await store.put(key, [SMALL, BIG, SMALL].map((image) => JSON.stringify({ image })).join('\n'));
    const event = { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key } } }] } as unknown as S3Event;
    const [outcome] = (await tight.batchScore(event)) as { status: string }[];
    expect(outcome.status, JSON.stringify(outcome)).toBe('succeeded');
    const text = async (name: string) =>
      new TextDecoder()
        .decode(await store.get(`batch/output/photo/large.jsonl.${name}`))
        .trim()
        .split('\n');
    const errors = (await text('errors.jsonl')).map((line) => JSON.parse(line));
    expect(errors).toEqual([
      {
        line: 2,
        error: expect.stringMatching(/^image is 2048x2048; decoding it and fitting it .* takes \d+\.\d MB at its peak; this function can give 64 MB \(MEMORY_BUDGET_BYTES\)/),
      },
    ]);
    expect(await text('predictions.jsonl')).toHaveLength(2);
  });
});
