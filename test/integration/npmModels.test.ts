/**
 * Real models nobody here trained, answering as their authors' own code does: nsfwjs (npm) ships
 * a MobileNetV2 classifier in layers format and another in graph format with its own classify()
 * (decode -> / 255 -> tf.image.resizeBilinear(alignCorners) -> predict). Pushed as a user would
 * (exported by examples/export-nsfwjs.mjs, the preprocessing given as modelctl's flags give it),
 * our predict on full-size photos (JPEG, and a PNG) must equal classify() within 1e-4 in every class
 * probability, on the same backend.
 *
 * classify() is given the pixels its users would give it: a JPEG decoded by libjpeg-turbo, as a
 * browser's <img>, tf.node.decodeImage (TensorFlow's decode_jpeg) or PIL decode it. The reference
 * decodes with @cwasm/jpeg-turbo, a wasm build of upstream libjpeg-turbo made by another project,
 * never with the service's own decoder (mozjpeg's build of libjpeg-turbo, @jsquash/jpeg): every
 * faithful decoder of this family gives the same pixels, which is the point, and a different
 * build keeps the test from agreeing with itself. With jpeg-js, the service's decoder before,
 * probabilities were up to 0.05 away (checked below).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decode as libjpegTurboDecode } from '@cwasm/jpeg-turbo';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportNsfwModel } from '../../examples/export-nsfwjs.mjs';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { preprocessingFrom } from '../../cli/commands/preprocessing.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
const PHOTOS = ['sample1.jpg', 'sample2.jpg', 'sample3.jpg'].map((f) => path.resolve('node_modules/@vladmandic/face-api/demo', f));

/** A photo as the bytes a client sends and as the int32 [H, W, 3] tensor its users give classify(). */
interface Photo {
  name: string;
  bytes: Uint8Array;
  pixels: () => tf.Tensor3D;
}

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

const rgbTensor = ({ width, height, data }: Rgba): tf.Tensor3D => tf.tensor3d(Int32Array.from(data.filter((_, i) => i % 4 !== 3)), [height, width, 3], 'int32');

/** jpeg-js's pixels: what the service decoded before it used libjpeg-turbo. */
const jpegJsPixels = (bytes: Uint8Array): Rgba => jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });

let app: App;
let storeUri: string;
let photos: Photo[];
type Classifier = { classify(image: tf.Tensor3D, topk: number): Promise<{ className: string; probability: number }[]> };
const theirs: Record<string, Classifier> = {};

beforeAll(async () => {
  await initBackend(); // wasm: nsfwjs runs on whatever backend TF.js has, the same as ours
  const dir = await mkdtemp(path.join(tmpdir(), 'nsfwjs-'));
  const store = await tempFolderStore();
  // What `modelctl push ... --image 224x224x3 --align-corners --labels ...` stores.
  const input = await preprocessingFrom({ image: '224x224x3', alignCorners: true });
  await pushModelFolder(store, await exportNsfwModel('MobileNetV2', dir), 'nsfw', { labels: CLASSES, transforms: { input: input as { kind: string } } });
  await pushModelFolder(store, await exportNsfwModel('MobileNetV2Mid', dir), 'nsfw-graph', { labels: CLASSES, transforms: { input: input as { kind: string } } });
  storeUri = store.uri;
  app = serving(store.uri);

  const jpegs = await Promise.all(PHOTOS.map(async (file) => new Uint8Array(await readFile(file))));
  // A full-size PNG of a real photo: the last JPEG's pixels, losslessly re-encoded (so those pixels are its reference).
  const last = libjpegTurboDecode(jpegs[2]);
  const png = new PNG({ width: last.width, height: last.height });
  png.data = Buffer.from(last.data);
  const pngBytes = new Uint8Array(PNG.sync.write(png));
  photos = [
    ...jpegs.map((bytes, i) => ({ name: path.basename(PHOTOS[i]), bytes, pixels: () => rgbTensor(libjpegTurboDecode(bytes)) })),
    { name: `${path.basename(PHOTOS[2], '.jpg')}.png`, bytes: pngBytes, pixels: () => rgbTensor(last) },
    // The same pixels with the left third fully transparent and the rest half: tf.node.decodeImage(bytes, 3),
    // as nsfwjs's README decodes, drops the alpha channel, so its reference is the same pixels.
    { name: `${path.basename(PHOTOS[2], '.jpg')}-transparent.png`, bytes: seeThrough(last), pixels: () => rgbTensor(last) },
  ];

  const nsfwjs = await import('nsfwjs');
  theirs.nsfw = (await nsfwjs.load('MobileNetV2')) as unknown as Classifier;
  theirs['nsfw-graph'] = (await nsfwjs.load('MobileNetV2Mid', { type: 'graph' })) as unknown as Classifier;
}, 120_000);

describe.each(['nsfw', 'nsfw-graph'])('%s (nsfwjs) through our predict', (model) => {
  it("equals the package's own classify() on full-size JPEG and PNG photos within 1e-4 in every class", async () => {
    for (const photo of photos) {
      const reference = await theirAnswer(model, photo.pixels());
      const answer = await call(app.predict, 'POST', `/v1/models/${model}:predict`, { instances: [{ b64: Buffer.from(photo.bytes).toString('base64') }] });
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
      const [prediction] = answer.body.predictions;
      expect(prediction.scores).toHaveLength(CLASSES.length);
      for (const { label, score } of prediction.scores) expect(Math.abs(score - reference[label]), `${photo.name} ${label}`).toBeLessThanOrEqual(1e-4);
    }
  });
});

/** A PNG of these pixels with the left third's alpha 0 and the rest's 128 (the colour stored under it). */
function seeThrough({ width, height, data }: Rgba): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(data);
  for (let p = 0; p < width * height; p++) png.data[p * 4 + 3] = p % width < width / 3 ? 0 : 128;
  return new Uint8Array(PNG.sync.write(png));
}

/** classify()'s probability of each class on an int32 [H, W, 3] tensor (disposed after). */
async function theirAnswer(model: string, pixels: tf.Tensor3D): Promise<Record<string, number>> {
  const answer = await theirs[model].classify(pixels, CLASSES.length);
  pixels.dispose();
  return Object.fromEntries(answer.map((p) => [p.className, p.probability]));
}

describe('the parity is not an accident of the tolerance', () => {
  it("jpeg-js's pixels (chroma replicated, its own IDCT) move classify()'s answer on these photos by more than 1e-3", async () => {
    let worst = 0;
    for (const photo of photos.slice(0, PHOTOS.length)) {
      const right = await theirAnswer('nsfw', photo.pixels());
      const old = await theirAnswer('nsfw', rgbTensor(jpegJsPixels(photo.bytes)));
      worst = Math.max(worst, ...CLASSES.map((c) => Math.abs(right[c] - old[c])));
    }
    expect(worst).toBeGreaterThan(1e-3);
  });

  it('without alignCorners the same photo answers differently by more than 1e-4', async () => {
    const store = await tempFolderStore();
    const dir = await mkdtemp(path.join(tmpdir(), 'nsfwjs-'));
    const input = await preprocessingFrom({ image: '224x224x3' });
    await pushModelFolder(store, await exportNsfwModel('MobileNetV2', dir), 'plain', { labels: CLASSES, transforms: { input: input as { kind: string } } });
    const other = serving(store.uri);
    const [photo] = photos;
    const body = { instances: [{ b64: Buffer.from(photo.bytes).toString('base64') }] };
    const aligned = (await call(app.predict, 'POST', '/v1/models/nsfw:predict', body)).body.predictions[0].scores;
    const plain = (await call(other.predict, 'POST', '/v1/models/plain:predict', body)).body.predictions[0].scores;
    const score = (scores: { label: string; score: number }[], label: string) => scores.find((s) => s.label === label)?.score ?? Number.NaN;
    expect(Math.max(...CLASSES.map((c) => Math.abs(score(aligned, c) - score(plain, c))))).toBeGreaterThan(1e-4);
  });

  it('composited over white (alpha white) the partly transparent photo answers differently by more than 1e-2', async () => {
    const store = await tempFolderStore();
    const dir = await mkdtemp(path.join(tmpdir(), 'nsfwjs-'));
    const input = await preprocessingFrom({ image: '224x224x3', alignCorners: true, alpha: 'white' });
    await pushModelFolder(store, await exportNsfwModel('MobileNetV2', dir), 'white', { labels: CLASSES, transforms: { input: input as { kind: string } } });
    const other = serving(store.uri);
    const photo = photos[photos.length - 1];
    const body = { instances: [{ b64: Buffer.from(photo.bytes).toString('base64') }] };
    const dropped = (await call(app.predict, 'POST', '/v1/models/nsfw:predict', body)).body.predictions[0].scores;
    const white = (await call(other.predict, 'POST', '/v1/models/white:predict', body)).body.predictions[0].scores;
    const score = (scores: { label: string; score: number }[], label: string) => scores.find((s) => s.label === label)?.score ?? Number.NaN;
    expect(Math.max(...CLASSES.map((c) => Math.abs(score(dropped, c) - score(white, c))))).toBeGreaterThan(1e-2);
  });
});

/**
 * The request that used to exhaust the wasm heap and break the function for good (integrated
 * gradients through MobileNetV2 on a photo) now runs in chunks within a 2048 MB function's
 * budget, and a function too small for even one row refuses it up front with the figures.
 */
describe('integrated gradients through MobileNetV2 within the memory budget', () => {
  const body = () => ({ instances: [{ b64: Buffer.from(photos[0].bytes).toString('base64') }], method: 'integratedGradients', steps: 8 });

  it('a 2048 MB function runs it in chunks, its tensors peaking under the budget, and leaves no tensor behind', async () => {
    // The gradient pass's cost per row is measured (under tf.profile) on its first use: here, so the
    // profile below is not cut short by a nested one.
    await call(app.explain, 'POST', '/v2/models/nsfw/explain', { instances: body().instances, method: 'saliency' });
    const budget = app.services.limits.budget.available();
    const tensorsBefore = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    let answer: Awaited<ReturnType<typeof call>> | undefined;
    const profile = await tf.profile(async () => {
      answer = await call(app.explain, 'POST', '/v2/models/nsfw/explain', body());
    });
    expect(answer?.statusCode, JSON.stringify(answer?.body).slice(0, 300)).toBe(200);
    const [explanation] = answer?.body.data.explanations ?? [];
    expect(explanation.heatmap).toHaveLength(224);
    expect(profile.peakBytes - bytesBefore).toBeLessThanOrEqual(budget);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  }, 120_000);

  it('a 512 MB function refuses it with a 413 naming the size that would run it, allocating nothing', async () => {
    const small = serving(storeUri, { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512' });
    await call(small.metadata, 'GET', '/v2/models/nsfw');
    const tensorsBefore = tf.memory().numTensors;
    const answer = await call(small.explain, 'POST', '/v2/models/nsfw/explain', body());
    expect(answer.statusCode).toBe(413);
    // The budget is what the function's memory leaves beside what this process holds (this test
    // worker's, after the 2048 MB run above): decoding the photo, the input row or one row of the pass does not fit.
    expect(answer.body.error).toMatch(
      /^(one row of a forward and backward pass through nsfw:1 (needs|may need up to) [\d.]+ MB( \(an estimate from its layers: not yet measured\))?|instances: one instance makes 0\.6 MB of model input .*|instances\[0\]: image is \d+x\d+; decoding it and fitting it to the model's 224x224 \(fit \w+\) takes [\d.]+ MB at its peak); this function can give .*a 512 MB function/,
    );
    const needed = Number(/a function of at least (\d+) MB/i.exec(answer.body.error)?.[1]);
    expect(needed, answer.body.error).toBeGreaterThan(512);
    expect(needed).toBeLessThanOrEqual(2048);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    small.services.loader.clear();
  });
});
