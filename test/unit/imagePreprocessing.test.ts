/**
 * The image pipeline against TF.js's own ops on the same decoded pixels (parity by construction
 * must still be checked: the order of steps, the crop boxes, the normalisation), and EXIF
 * orientation against the turns and mirrors its eight values name.
 */
import * as tf from '@tensorflow/tfjs-core';
import piexif from 'piexifjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeImages, imageKind, type ImageSettings } from '../../lib/inputs/image.js';
import { coverBox } from '../../lib/inputs/image/fit.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { b64, jpegBytes, pixels, pngBytes, type Painter } from '../helpers/images.js';

const settings = (fields: Partial<ImageSettings>): ImageSettings => imageKind.schema.parse({ kind: 'image', width: 24, height: 16, channels: 3, ...fields });

/** A colourful, non-symmetric 61 x 43 test card: every pixel differs, in every channel. */
const WIDTH = 61;
const HEIGHT = 43;
const card: Painter = (x, y) => [(x * 7 + y * 3) % 256, (x * 2 + y * 11 + 40) % 256, (255 - x * 4 + y) & 255, 255];
const png = pngBytes(WIDTH, HEIGHT, card);

/** The card's pixels as TF.js would hold them after decoding: float32 [H, W, 3]. */
const decoded = () => tf.tensor3d(Float32Array.from(pixels(WIDTH, HEIGHT, card).filter((_, i) => i % 4 !== 3)), [HEIGHT, WIDTH, 3]);

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

beforeAll(async () => {
  await initBackend();
});

describe('resampling equals TF.js on the same decoded pixels', () => {
  it.each([
    ['bilinear', false, false],
    ['bilinear', true, false],
    ['bilinear', false, true],
    ['nearest', false, false],
    ['nearest', true, false],
    ['nearest', false, true],
  ] as const)('%s, alignCorners %s, halfPixelCenters %s (stretch, down and up)', async (resize, alignCorners, halfPixelCenters) => {
    for (const [width, height] of [
      [24, 16],
      [97, 80],
    ]) {
      const s = settings({ width, height, resize, alignCorners, halfPixelCenters });
      const ours = await encodeImages(s, [b64(png)]);
      const reference = tf.tidy(() => {
        const op = resize === 'bilinear' ? tf.image.resizeBilinear : tf.image.resizeNearestNeighbor;
        return tf.div(op(decoded(), [height, width], alignCorners, halfPixelCenters), 255).dataSync();
      });
      expect(maxDifference(ours, reference)).toBeLessThanOrEqual(1e-5);
    }
  });

  it("cover is Keras's smart_resize: the centred crop with the target's aspect ratio, then one resize", async () => {
    // 61 x 43 to 24 x 16 (aspect 1.5): the crop is 43 * 1.5 = 64 > 61 wide, so the full width and 61 / 1.5 = 40 rows, from row 1.
    expect(coverBox(HEIGHT, WIDTH, 16, 24)).toEqual([1, 0, 40, 61]);
    expect(coverBox(100, 50, 10, 10)).toEqual([25, 0, 50, 50]); // tall: the middle square
    const s = settings({ fit: 'cover', alignCorners: true });
    const reference = tf.tidy(() => tf.div(tf.image.resizeBilinear(tf.slice(decoded(), [1, 0, 0], [40, 61, 3]), [16, 24], true), 255).dataSync());
    expect(maxDifference(await encodeImages(s, [b64(png)]), reference)).toBeLessThanOrEqual(1e-5);
  });

  /** human's padInput for MoveNet and BlazePose, to any target: tf.pad with the fill, then one tf.image.resizeBilinear. */
  const padThenResize = (image: tf.Tensor3D, padding: [number, number][], fill: number, height: number, width: number, halfPixelCenters = false) =>
    tf.tidy(() => tf.div(tf.image.resizeBilinear(tf.pad(image, padding, fill), [height, width], false, halfPixelCenters), 255).dataSync());

  it("contain is human's padInput: padded with the fill to the target's aspect, the same on both sides, then resized", async () => {
    // 61 x 43 into 32 x 32: 18 rows short of square, 9 above and 9 below, then 61 x 61 resized to 32 x 32.
    // The letterbox before (resize to 32 x 23, then 4 + 5 whole rows of fill) was up to 244 levels off on this card.
    const square = settings({ width: 32, height: 32, fit: 'contain', fill: 128 });
    const reference = padThenResize(
      decoded(),
      [
        [9, 9],
        [0, 0],
        [0, 0],
      ],
      128,
      32,
      32,
    );
    expect(maxDifference(await encodeImages(square, [b64(png)]), reference)).toBeLessThanOrEqual(1e-5);
    // 61 x 43 into 24 x 16 (3:2): 64.5 columns wide at that aspect, 3.5 short: one column each side (63 x 43).
    const wide = settings({ width: 24, height: 16, fit: 'contain', halfPixelCenters: true });
    const columns: [number, number][] = [
      [0, 0],
      [1, 1],
      [0, 0],
    ];
    expect(maxDifference(await encodeImages(wide, [b64(png)]), padThenResize(decoded(), columns, 0, 16, 24, true))).toBeLessThanOrEqual(1e-5);
  });

  it('contain pads an odd difference by the same whole number of rows on both sides, the odd row left out (as human does)', async () => {
    // 61 x 44: 17 rows short of square; trunc(17 / 2) = 8 above and 8 below (61 x 60), not 8 and 9.
    const odd = pngBytes(61, 44, card);
    const oddPixels = () => tf.tensor3d(Float32Array.from(pixels(61, 44, card).filter((_, i) => i % 4 !== 3)), [44, 61, 3]);
    const s = settings({ width: 32, height: 32, fit: 'contain' });
    const reference = padThenResize(
      oddPixels(),
      [
        [8, 8],
        [0, 0],
        [0, 0],
      ],
      0,
      32,
      32,
    );
    expect(maxDifference(await encodeImages(s, [b64(odd)]), reference)).toBeLessThanOrEqual(1e-5);
  });

  it('contain leaves an image of the target aspect ratio as stretch fits it', async () => {
    const card32 = pngBytes(48, 32, card);
    const contain = await encodeImages(settings({ fit: 'contain', fill: 255 }), [b64(card32)]);
    expect(maxDifference(contain, await encodeImages(settings({}), [b64(card32)]))).toBe(0);
  });

  it('contain refuses an image whose letterbox would be too large to hold, with a 400 naming it', async () => {
    // A 2048 x 1 strip letterboxed for a 1 x 2048 model would be 2048 wide and 4194303 rows high (2 x 2097151 rows of fill).
    const strip = pngBytes(2048, 1, card);
    const s = settings({ width: 1, height: 2048, fit: 'contain' });
    await expect(encodeImages(s, [b64(strip)])).rejects.toThrow(
      /instances\[0\]: image is 2048x1; letterboxed \(fit contain\) to the model's 1x2048 aspect ratio it would be 2048x4194303/,
    );
    const before = tf.memory().numTensors;
    await encodeImages(s, [b64(strip)]).catch(() => undefined);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('normalises each channel as (value * scale + offset - mean[c]) / std[c], in BGR when asked', async () => {
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const plain = await encodeImages(settings({}), [b64(png)]);
    const normalised = await encodeImages(settings({ mean, std }), [b64(png)]);
    const bgr = await encodeImages(settings({ mean, std, channelOrder: 'bgr' }), [b64(png)]);
    for (let i = 0; i < plain.length; i += 7) {
      const c = i % 3;
      expect(normalised[i]).toBeCloseTo((plain[i] - mean[c]) / std[c], 5);
      // BGR: the channels swap before normalising, and the statistics are given in that order.
      const p = i - c;
      expect(bgr[i]).toBeCloseTo((plain[p + 2 - c] - mean[c]) / std[c], 5);
    }
    const withOffset = await encodeImages(settings({ scale: 1 / 127.5, offset: -1 }), [b64(png)]);
    for (let i = 0; i < plain.length; i += 11) expect(withOffset[i]).toBeCloseTo(plain[i] * 2 - 1, 5);
  });

  it.each(['bilinear', 'nearest'] as const)("crop is tf.image.cropAndResize of the box (%s), as human's gear crops a face", async (resize) => {
    // [top, left, bottom, right] as cropAndResize's [y1, x1, y2, x2]: gear's box, and one off-centre up-sampled.
    for (const [crop, width, height] of [
      [[0, 0.1, 0.9, 0.9], 24, 16],
      [[0.25, 0.05, 0.6, 0.45], 40, 30],
    ] as const) {
      const s = settings({ width, height, resize, crop: [...crop] });
      const reference = tf.tidy(() => tf.div(tf.image.cropAndResize(tf.expandDims<tf.Tensor4D>(decoded()), [[...crop]], [0], [height, width], resize), 255).dataSync());
      expect(maxDifference(await encodeImages(s, [b64(png)]), reference)).toBeLessThanOrEqual(1e-5);
    }
    // The box matters: the whole image resized is another input (values are 0..1).
    const whole = await encodeImages(settings({ resize }), [b64(png)]);
    expect(maxDifference(await encodeImages(settings({ resize, crop: [0, 0.1, 0.9, 0.9] }), [b64(png)]), whole)).toBeGreaterThan(0.1);
  });

  it('refuses settings TF.js would refuse or that cannot apply, naming the field', () => {
    const refuse = (fields: object) => JSON.stringify(imageKind.schema.safeParse({ kind: 'image', width: 4, height: 4, channels: 3, ...fields }).error?.issues);
    expect(refuse({ alignCorners: true, halfPixelCenters: true })).toMatch(/halfPixelCenters/);
    expect(refuse({ resize: 'area', alignCorners: true })).toMatch(/resize/);
    expect(refuse({ mean: [0.5, 0.5] })).toMatch(/mean has 2 values; the image has 3 channel/);
    expect(refuse({ std: [1, 0, 1] })).toMatch(/std must be positive/);
    expect(refuse({ fit: 'crop' })).toMatch(/fit/);
    expect(refuse({ greyWeights: [0.2989, 0.587, 0.114] })).toMatch(/greyWeights apply to a 1-channel/);
    expect(refuse({ channels: 1, greyWeights: [0.3, 0.6] })).toMatch(/greyWeights/);
    expect(refuse({ crop: [0.5, 0, 0.4, 1] })).toMatch(/crop is top,left,bottom,right with top < bottom/);
    expect(refuse({ crop: [0, 0, 1, 1.5] })).toMatch(/crop/);
    expect(refuse({ crop: [0, 0.1, 0.9, 0.9], fit: 'cover' })).toMatch(/crop resizes its box to the model's size \(fit stretch\); fit cover/);
    expect(refuse({ crop: [0, 0.1, 0.9, 0.9], resize: 'area' })).toMatch(/bilinear or nearest, not area/);
    expect(refuse({ crop: [0, 0.1, 0.9, 0.9], alignCorners: true })).toMatch(/alignCorners and halfPixelCenters do not apply/);
  });
});

describe('grey', () => {
  /** The card turned grey as @vladmandic/human's emotion step does: each channel times its weight, summed (src/gear/emotion.ts). */
  const weighted = (weights: number[], width: number, height: number) =>
    tf.tidy(() => tf.div(tf.sum(tf.mul(tf.image.resizeBilinear(decoded(), [height, width]), weights), 2), 255).dataSync());

  it('is luminance (0.299, 0.587, 0.114) by default, and greyWeights when given, as the weighted sum of the resized channels', async () => {
    for (const weights of [
      [0.299, 0.587, 0.114],
      [0.2989, 0.587, 0.114],
      [0.2126, 0.7152, 0.0722],
    ]) {
      const given = weights[0] === 0.299 ? {} : { greyWeights: weights as [number, number, number] };
      const ours = await encodeImages(settings({ channels: 1, width: 24, height: 16, ...given }), [b64(png)]);
      expect(maxDifference(ours, weighted(weights, 24, 16))).toBeLessThanOrEqual(1e-5);
    }
  });

  it("human's weights differ from luminance on this card: the flag changes the model's input", async () => {
    const luminance = await encodeImages(settings({ channels: 1 }), [b64(png)]);
    const human = await encodeImages(settings({ channels: 1, greyWeights: [0.2989, 0.587, 0.114] }), [b64(png)]);
    expect(maxDifference(luminance, human)).toBeGreaterThan(1e-5);
  });
});

describe('transparency', () => {
  // The card with the left third fully transparent and the rest half: colour stored under every alpha.
  const seeThrough: Painter = (x, y) => {
    const [r, g, b] = card(x, y);
    return [r, g, b, x < WIDTH / 3 ? 0 : 128];
  };
  const resized = (plane: tf.Tensor3D) => tf.tidy(() => tf.div(tf.image.resizeBilinear(plane, [16, 24]), 255).dataSync());

  it("'drop' reads the colour stored under the alpha, as decode_png with 3 channels does: the opaque card's input", async () => {
    const dropped = await encodeImages(settings({ alpha: 'drop' }), [b64(pngBytes(WIDTH, HEIGHT, seeThrough))]);
    expect(maxDifference(dropped, resized(decoded()))).toBeLessThanOrEqual(1e-5);
  });

  it("'white' composites it over white: c * a + 255 * (1 - a), then resized", async () => {
    const rgba = pixels(WIDTH, HEIGHT, seeThrough);
    const over = Float32Array.from({ length: WIDTH * HEIGHT * 3 }, (_, i) => {
      const p = Math.floor(i / 3) * 4;
      const a = rgba[p + 3] / 255;
      return rgba[p + (i % 3)] * a + 255 * (1 - a);
    });
    const white = await encodeImages(settings({ alpha: 'white' }), [b64(pngBytes(WIDTH, HEIGHT, seeThrough))]);
    expect(maxDifference(white, resized(tf.tensor3d(over, [HEIGHT, WIDTH, 3])))).toBeLessThanOrEqual(1e-5);
    expect(maxDifference(white, resized(decoded()))).toBeGreaterThan(0.1);
  });

  it('a manifest without alpha (pushed before it existed) is read over white, as it was served', () => {
    expect(settings({}).alpha).toBe('white');
  });
});

describe('EXIF orientation', () => {
  // A 3 x 2 image whose six pixels are all different: where each lands tells the turn or mirror.
  const colours: [number, number, number][] = [
    [250, 0, 0],
    [0, 250, 0],
    [0, 0, 250],
    [250, 250, 0],
    [0, 250, 250],
    [250, 0, 250],
  ];
  const stored: Painter = (x, y) => [...colours[y * 3 + x], 255];
  const tagged = (orientation: number) =>
    Buffer.from(piexif.insert(piexif.dump({ '0th': { [piexif.ImageIFD.Orientation]: orientation } }), jpegBytes(3, 2, stored, 100).toString('binary')), 'binary');
  /** Where stored pixel (x, y) of a 3 x 2 image appears once displayed, for each EXIF value (1-8). */
  const shown: Record<number, (x: number, y: number) => [number, number]> = {
    1: (x, y) => [x, y],
    2: (x, y) => [2 - x, y],
    3: (x, y) => [2 - x, 1 - y],
    4: (x, y) => [x, 1 - y],
    5: (x, y) => [y, x],
    6: (x, y) => [1 - y, x],
    7: (x, y) => [1 - y, 2 - x],
    8: (x, y) => [y, 2 - x],
  };

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('orientation %d puts every pixel where it is displayed', async (orientation) => {
    const turned = orientation >= 5;
    const [width, height] = turned ? [2, 3] : [3, 2];
    const row = await encodeImages(settings({ width, height, scale: 1 }), [b64(tagged(orientation))]);
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        const [sx, sy] = shown[orientation](x, y);
        const at = (sy * width + sx) * 3;
        // JPEG at quality 100 keeps each colour within a few levels.
        for (let c = 0; c < 3; c++) expect(Math.abs(row[at + c] - colours[y * 3 + x][c])).toBeLessThan(12);
      }
    }
  });

  it('is skipped with exifOrientation: false', async () => {
    const upright = await encodeImages(settings({ width: 3, height: 2, scale: 1 }), [b64(tagged(1))]);
    const ignored = await encodeImages(settings({ width: 3, height: 2, scale: 1, exifOrientation: false }), [b64(tagged(6))]);
    expect(maxDifference(ignored, upright)).toBe(0);
  });
});
