/**
 * A grayscale model nobody here trained, answering as its authors' own code does: the emotion
 * classifier @vladmandic/human ships (models/emotion.json, 64x64x1, converted from
 * oarriaga/face_classification). human's emotion step (src/gear/emotion.ts) takes a face crop in
 * 0..1, resizes it with tf.image.resizeBilinear (no aligned corners), turns it grey with its own
 * weights (0.2989, 0.587, 0.114: src/tfjs/constants.ts) and maps 0..1 to -1..1. Pushed as
 * `modelctl push .../emotion.json --image 64x64x1 --grey-weights 0.2989,0.587,0.114 --scale
 * 0.00784313725 --offset -1` stores it, our predict on a PNG of a face must equal human's own
 * function run on the same pixels, within 1e-4 in every score, on the same backend.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decode as libjpegTurboDecode } from '@cwasm/jpeg-turbo';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preprocessingFrom } from '../../cli/commands/preprocessing.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { humanEmotion, type HumanEmotion } from '../helpers/humanEmotion.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const MODEL = 'node_modules/@vladmandic/human/models/emotion.json';
/** human's order for a one-channel emotion model (src/gear/emotion.ts). */
const LABELS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
const FLAGS = { image: '64x64x1', scale: '0.00784313725', offset: '-1' };
const HUMAN_GREY = '0.2989,0.587,0.114';
/** Faces in the face-api demo photos, at fixed boxes (1920-pixel-wide photos). */
const FACES = [
  { photo: 'sample1.jpg', x: 400, y: 340, width: 240, height: 240 },
  { photo: 'sample1.jpg', x: 1440, y: 190, width: 260, height: 260 },
  { photo: 'sample2.jpg', x: 340, y: 140, width: 220, height: 280 },
  { photo: 'sample2.jpg', x: 920, y: 160, width: 240, height: 260 },
  { photo: 'sample3.jpg', x: 580, y: 320, width: 240, height: 280 },
  { photo: 'sample3.jpg', x: 1500, y: 240, width: 260, height: 280 },
];

interface Face {
  name: string;
  /** What a client sends: the crop as a PNG, or as a JPEG. */
  bytes: Uint8Array;
  /** The same pixels (a JPEG's as libjpeg-turbo decodes it) as human holds a face: float [1, H, W, 3] in 0..1. */
  tensor: () => tf.Tensor4D;
}

let human: HumanEmotion;
const faces: Face[] = [];

async function servingPushed(flags: object): Promise<App> {
  const store = await tempFolderStore();
  const input = await preprocessingFrom(flags);
  await pushModelFolder(store, MODEL, 'emotion', { labels: LABELS, transforms: { input: input as { kind: string } } });
  return serving(store.uri);
}

async function scores(app: App, face: Face): Promise<Record<string, number>> {
  const answer = await call(app.predict, 'POST', '/v1/models/emotion:predict', { instances: [{ b64: Buffer.from(face.bytes).toString('base64') }] });
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  return Object.fromEntries(answer.body.predictions[0].scores.map((s: { label: string; score: number }) => [s.label, s.score]));
}

async function theirs(face: Face) {
  const tensor = face.tensor();
  const answer = await human.scores(tensor);
  tensor.dispose();
  return answer;
}

const worstDifference = (ours: Record<string, number>, raw: number[]) => Math.max(...LABELS.map((label, i) => Math.abs(ours[label] - raw[i])));

/** human's face as it holds one: the RGBA pixels' RGB, float [1, H, W, 3] in 0..1. */
const asFace = (name: string, bytes: Uint8Array, { width, height, data }: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }): Face => {
  const rgb = Float32Array.from(data.filter((_, i) => i % 4 !== 3));
  return { name, bytes, tensor: () => tf.tidy(() => tf.div(tf.tensor4d(rgb, [1, height, width, 3]), 255)) };
};

beforeAll(async () => {
  await initBackend();
  human = await humanEmotion();
  for (const box of FACES) {
    const image = libjpegTurboDecode(new Uint8Array(await readFile(path.join('node_modules/@vladmandic/face-api/demo', box.photo))));
    const png = new PNG({ width: box.width, height: box.height });
    for (let y = 0; y < box.height; y++) {
      const from = ((box.y + y) * image.width + box.x) * 4;
      png.data.set(image.data.subarray(from, from + box.width * 4), y * box.width * 4);
    }
    faces.push(asFace(`${box.photo} at ${box.x},${box.y} (PNG)`, new Uint8Array(PNG.sync.write(png)), png));
    if (box === FACES[0]) {
      // The same face sent as a JPEG: its reference pixels are an independent libjpeg-turbo build's (the service decodes with mozjpeg's).
      const bytes = new Uint8Array(jpeg.encode({ data: png.data, width: box.width, height: box.height }, 90).data);
      faces.push(asFace(`${box.photo} at ${box.x},${box.y} (JPEG)`, bytes, libjpegTurboDecode(bytes)));
    }
  }
}, 60_000);

afterAll(() => human?.close());

describe('emotion (@vladmandic/human) through our predict', () => {
  it("equals human's own emotion step on faces of real photos within 1e-4 in every score, leaving no tensor behind", async () => {
    const app = await servingPushed({ ...FLAGS, greyWeights: HUMAN_GREY });
    await scores(app, faces[0]); // the model loaded, so the count below is the request's
    for (const face of faces) {
      const { raw, shown } = await theirs(face);
      const before = tf.memory().numTensors;
      const ours = await scores(app, face);
      expect(tf.memory().numTensors).toBe(before);
      expect(worstDifference(ours, raw), face.name).toBeLessThanOrEqual(1e-4);
      // The labels are in human's order: its top emotion is ours.
      expect(Object.entries(ours).sort((a, b) => b[1] - a[1])[0][0], face.name).toBe(shown[0].emotion);
    }
  });

  it("without --grey-weights (luminance's 0.299 for red) a face answers more than 1e-4 away from human's", async () => {
    const app = await servingPushed(FLAGS);
    let worst = 0;
    for (const face of faces) worst = Math.max(worst, worstDifference(await scores(app, face), (await theirs(face)).raw));
    expect(worst).toBeGreaterThan(1e-4);
  });

  it('--grey-weights takes three numbers and a grey image', async () => {
    expect(await preprocessingFrom({ ...FLAGS, greyWeights: HUMAN_GREY })).toMatchObject({ channels: 1, greyWeights: [0.2989, 0.587, 0.114] });
    await expect(preprocessingFrom({ ...FLAGS, greyWeights: '0.3,0.6' })).rejects.toThrow(/--grey-weights/);
    await expect(preprocessingFrom({ ...FLAGS, image: '64x64x3', greyWeights: HUMAN_GREY })).rejects.toThrow(/--grey-weights: greyWeights apply to a 1-channel/);
    await expect(preprocessingFrom({ greyWeights: HUMAN_GREY })).rejects.toThrow(/need the input kind/);
  });
});
