/**
 * Image preprocessing of a 1280 x 960 JPEG photo to a MobileNet's 224 x 224 x 3 input (decode,
 * EXIF orientation, colour, resize, normalise), step by step, against one raw predict of that
 * MobileNet-sized model; and the resize on the backend (tf.image.resizeBilinear, what the image
 * kind uses) against the hand-written area resampler it replaced for `stretch`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import jpeg from 'jpeg-js';
import { encodeImages, imageKind } from '../lib/inputs/image.js';
import { areaResize } from '../lib/inputs/image/areaResize.js';
import { decodeImage } from '../lib/inputs/image/decode.js';
import { exifOrientation } from '../lib/inputs/image/orientation.js';
import { toPlane } from '../lib/inputs/image/plane.js';
import { readModelFolder } from '../lib/ops/pushFolder.js';
import { concatWeights, formatOf, parseModelJson } from '../lib/registry/artifacts.js';
import { modelFromMemory } from '../lib/runtime/tfModel.js';
import { MOBILENET_INPUT, mobileNetFolder } from './mobileNet.js';
import { compare, round, summarize } from './stats.js';
import { atMost, type Target } from './targets.js';

export interface PreprocessBenchResult {
  image: { width: number; height: number; jpegBytes: number };
  /** Medians, ms. */
  steps: Record<string, number>;
  /** encodeImages, the whole pipeline the predict path runs (ms, median). */
  preprocessMs: number;
  /** One raw predict of the MobileNet-sized model, batch 1, tensor in, data() out (ms, median). */
  predictMs: number;
  ratio: number;
  /** tf.image.resizeBilinear on the backend over the hand-written area resampler (same plane, same size). */
  resizeRatio: number;
  runs: number;
  targets: Target[];
}

/** A real photo at 1280 x 960: face-api's demo sample (1920 x 1280), resized and re-encoded at quality 90. */
async function photo1280(): Promise<Uint8Array> {
  const bytes = await readFile(path.resolve('node_modules/@vladmandic/face-api/demo/sample1.jpg'));
  const { width, height, rgba } = decodeImage(bytes, 'photo');
  const resized = tf.tidy(() => tf.cast(tf.image.resizeBilinear(tf.tensor3d(rgba, [height, width, 4], 'int32'), [960, 1280]), 'int32'));
  const data = resized.dataSync();
  resized.dispose();
  return new Uint8Array(jpeg.encode({ width: 1280, height: 960, data: Uint8Array.from(data) }, 90).data);
}

export async function measurePreprocess(options: { quick?: boolean } = {}): Promise<PreprocessBenchResult> {
  const runs = options.quick ? 5 : 20;
  const bytes = await photo1280();
  const settings = imageKind.schema.parse(MOBILENET_INPUT);
  const files = await readModelFolder(await mobileNetFolder());
  const modelJson = parseModelJson(files.get('model.json'));
  const model = (await modelFromMemory(formatOf(modelJson), modelJson, concatWeights(modelJson, files))) as { predict(x: tf.Tensor): tf.Tensor; dispose(): void };
  const decoded = decodeImage(bytes, 'photo');
  const plane = toPlane(decoded, 3, 'drop');
  const input = tf.zeros([1, 224, 224, 3]);
  const before = tf.memory().numTensors;
  let result: PreprocessBenchResult;
  try {
    const samples = await compare(
      {
        decode: async () => decodeImage(bytes, 'photo'),
        orientation: () => exifOrientation(bytes),
        colour: async () => toPlane(decoded, 3, 'drop'),
        'resize (tf.image.resizeBilinear)': async () => {
          const resized = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(plane.data, [plane.height, plane.width, 3]), [224, 224], true));
          resized.dataSync();
          resized.dispose();
        },
        'resize (hand-written area)': async () => areaResize(plane, 224, 224),
        preprocess: () => encodeImages(settings, [{ b64: Buffer.from(bytes).toString('base64') }]),
        predict: async () => {
          const y = tf.tidy(() => model.predict(input));
          await y.data();
          y.dispose();
        },
      },
      { warmup: 3, iterations: runs },
    );
    const p50 = (name: string) => round(summarize(samples[name]).p50);
    const steps = Object.fromEntries(['decode', 'orientation', 'colour', 'resize (tf.image.resizeBilinear)', 'resize (hand-written area)'].map((s) => [s, p50(s)]));
    const resizeRatio = round(p50('resize (tf.image.resizeBilinear)') / p50('resize (hand-written area)'), 2);
    result = {
      image: { width: 1280, height: 960, jpegBytes: bytes.length },
      steps,
      preprocessMs: p50('preprocess'),
      predictMs: p50('predict'),
      ratio: round(p50('preprocess') / p50('predict'), 2),
      resizeRatio,
      runs,
      targets: [atMost('1280x960 -> 224x224x3 resize: TF.js op on the backend / hand-written', 1, 'x', resizeRatio)],
    };
  } finally {
    input.dispose();
    model.dispose();
  }
  if (tf.memory().numTensors > before) throw new Error(`preprocess bench left ${tf.memory().numTensors - before} tensors`);
  return result;
}

export function formatPreprocess(r: PreprocessBenchResult): string {
  const steps = Object.entries(r.steps)
    .map(([s, ms]) => `${s} ${ms}`)
    .join(', ');
  return [
    `image preprocessing, ${r.image.width}x${r.image.height} JPEG (${r.image.jpegBytes} bytes) -> 224x224x3, ${r.runs} runs, p50 ms: ${steps}`,
    `whole pipeline ${r.preprocessMs} ms vs one raw MobileNetV2 predict ${r.predictMs} ms: ${r.ratio}x; resize on the backend / hand-written: ${r.resizeRatio}x`,
    '',
  ].join('\n');
}
