/**
 * The geometry between the decoded image and the model's width x height: EXIF orientation first,
 * then the fit, resampled with TF.js's own image ops on the active backend (so a model trained
 * with tf.image.resizeBilinear or resizeNearestNeighbor sees exactly what its pipeline gave it):
 *
 *   stretch   the whole image resized to width x height (aspect ratio not kept)
 *   cover     the centred crop with the target's aspect ratio, then resized: Keras's smart_resize
 *             (the short side fills the target, the long side is cut evenly on both ends)
 *   contain   the letterbox of MoveNet's and BlazePose's own pipelines (@vladmandic/human's
 *             padInput): the image padded with `fill` to the target's aspect ratio, the same number
 *             of rows (or columns) on both sides, then resized as a whole; so the fill blends into
 *             the border rows and the image sits at a fractional offset, as the model saw in training
 *   mnist     crop to the ink, fit a 20/28 box, centre by centre of mass (area resampling)
 *
 * or, with `crop` (fit stretch), the box [top, left, bottom, right] (fractions) resized with
 * tf.image.cropAndResize: its sampling puts the box's corners on the output's corners.
 *
 * `area` resampling is ours (areaResize.ts; TF.js has no area op): the coverage-weighted mean of
 * the source pixels when shrinking.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadRequestError } from '../../errors.js';
import { areaResize, type Plane } from './areaResize.js';
import { mnistFit } from './mnistFit.js';
import { oriented } from './orientation.js';

export interface FitSettings {
  width: number;
  height: number;
  fit: 'stretch' | 'cover' | 'contain' | 'mnist';
  resize: 'bilinear' | 'nearest' | 'area';
  alignCorners: boolean;
  halfPixelCenters: boolean;
  /** contain: the value (0..255) of the padding. */
  fill: number;
  /** [top, left, bottom, right], fractions: the box tf.image.cropAndResize resizes (fit stretch). */
  crop?: [number, number, number, number];
}

/** [top, left, height, width] of the centred crop with the target's aspect ratio (Keras smart_resize). */
export function coverBox(height: number, width: number, targetHeight: number, targetWidth: number): [number, number, number, number] {
  const cropHeight = Math.min(height, Math.floor((width * targetHeight) / targetWidth));
  const cropWidth = Math.min(width, Math.floor((height * targetWidth) / targetHeight));
  return [Math.floor((height - cropHeight) / 2), Math.floor((width - cropWidth) / 2), Math.max(1, cropHeight), Math.max(1, cropWidth)];
}

function resized(settings: FitSettings, image: tf.Tensor3D, height: number, width: number): tf.Tensor3D {
  const [h, w, c] = image.shape;
  if (h === height && w === width) return image;
  if (settings.resize === 'nearest') return tf.image.resizeNearestNeighbor(image, [height, width], settings.alignCorners, settings.halfPixelCenters);
  if (settings.resize === 'bilinear') return tf.image.resizeBilinear(image, [height, width], settings.alignCorners, settings.halfPixelCenters);
  const plane = areaResize({ width: w, height: h, channels: c, data: image.dataSync() as Float32Array }, width, height);
  return tf.tensor3d(plane.data, [height, width, c]);
}

/**
 * contain's padding, [[top, bottom], [left, right], [0, 0]]: the rows (or columns) that bring the
 * image to the target's aspect ratio, half on each side, cut down to a whole pixel on both: human's
 * padInput pads a 1920 x 1537 photo by trunc(383 / 2) = 191 rows above and below (1920 x 1919),
 * not 191 and 192, and a row more moved its resized border by up to 101 levels.
 */
function letterboxPadding(height: number, width: number, targetHeight: number, targetWidth: number): [number, number][] {
  // Integer arithmetic: exact for any target, so an exact-ratio image gets no padding at all.
  const wide = width * targetHeight - height * targetWidth; // > 0: wider than the target, pad rows
  const rows = wide > 0 ? Math.floor(wide / (2 * targetWidth)) : 0;
  const columns = wide < 0 ? Math.floor(-wide / (2 * targetHeight)) : 0;
  return [
    [rows, rows],
    [columns, columns],
    [0, 0],
  ];
}

/**
 * Largest letterboxed image, in pixels. The decoder takes at most 2048 x 2048; padded to the
 * target's aspect that can grow without bound (a 2048 x 1 strip for a 1 x 2048 model is 8.6 G
 * pixels). Twice the largest decoded image lets every accepted image letterbox into any target up
 * to 2:1 (16:9 included): at most 8.4 M pixels, 100 MB of float32 RGB held while it is resized.
 */
const MAX_LETTERBOX_PIXELS = 2 * 2048 * 2048;

function checkLetterbox(height: number, width: number, padding: [number, number][], settings: FitSettings, where: string): void {
  const paddedHeight = height + 2 * padding[0][0];
  const paddedWidth = width + 2 * padding[1][0];
  if (paddedHeight * paddedWidth <= MAX_LETTERBOX_PIXELS) return;
  throw new BadRequestError(
    `${where}: image is ${width}x${height}; letterboxed (fit contain) to the model's ${settings.width}x${settings.height} aspect ratio it would be ` +
      `${paddedWidth}x${paddedHeight}, more than ${MAX_LETTERBOX_PIXELS} pixels: send a smaller image, or one nearer the model's aspect ratio`,
  );
}

/** Orientations 5-8 swap height and width (orientation.ts). */
export const turnedSideways = (orientation: number) => orientation >= 5;

/** Tensors an EXIF orientation makes besides the image's own: a reverse (2-4) or a transpose (5), a transpose then a reverse (6-8). */
const orientationCopies = (orientation: number) => (orientation >= 6 ? 2 : orientation >= 2 ? 1 : 0);

/**
 * What orientation and fit take at their peak for a height x width x channels plane, before any
 * of it is taken (the plane's own array not counted: the caller holds it), as fitted() allocates:
 * the plane copied into a tensor, the orientation's copies (a tidy keeps them all until it ends),
 * the cover crop or the contain padding, and the resize: TF.js's op makes only its output; area
 * and mnist read the source back into JS (one more copy) and resample through arrays of their own.
 * Also refuses (400) a letterbox past its limit, as fitted() would, before the memory is weighed.
 */
export function fitBytes(settings: FitSettings, height: number, width: number, channels: number, orientation: number, where: string): number {
  const float = 4 * channels;
  const [h, w] = turnedSideways(orientation) ? [width, height] : [height, width];
  const plane = h * w * float;
  const output = settings.height * settings.width * float;
  const tensors = plane * (1 + orientationCopies(orientation));
  // mnist: the plane read back, the ink's crop, an RGB plane's luminance, the resampled box
  if (settings.fit === 'mnist') return tensors + 2 * plane + (channels === 3 ? h * w * 4 : 0) + 2 * output;
  let [sourceHeight, sourceWidth] = [h, w];
  if (settings.fit === 'cover') [, , sourceHeight, sourceWidth] = coverBox(h, w, settings.height, settings.width);
  if (settings.fit === 'contain') {
    const padding = letterboxPadding(h, w, settings.height, settings.width);
    if (padding[0][0] > 0 || padding[1][0] > 0) checkLetterbox(h, w, padding, settings, where);
    [sourceHeight, sourceWidth] = [h + 2 * padding[0][0], w + 2 * padding[1][0]];
  }
  const source = sourceHeight === h && sourceWidth === w ? 0 : sourceHeight * sourceWidth * float; // the crop or the padded copy
  // area: the source read back, its rows resampled to the target's width, the output array and its tensor
  const resize = settings.resize === 'area' ? sourceHeight * sourceWidth * float + sourceHeight * settings.width * float + 2 * output : output;
  return tensors + source + resize + output; // the last: the fitted values read back
}

/** The fitted image as a tensor (built inside the caller's tidy). */
function fitted(settings: FitSettings, plane: Plane, orientation: number, where: string): tf.Tensor3D {
  const { width, height } = settings;
  const c = plane.channels;
  const image = oriented(tf.tensor3d(plane.data, [plane.height, plane.width, c]), orientation);
  const [h, w] = image.shape;
  if (settings.crop) {
    const method = settings.resize === 'nearest' ? 'nearest' : 'bilinear';
    return tf.squeeze<tf.Tensor3D>(tf.image.cropAndResize(tf.expandDims<tf.Tensor4D>(image), [settings.crop], [0], [height, width], method), [0]);
  }
  if (settings.fit === 'mnist') {
    return tf.tensor3d(mnistFit({ width: w, height: h, channels: c, data: image.dataSync() as Float32Array }, width, height).data, [height, width, c]);
  }
  if (settings.fit === 'cover') {
    const [top, left, cropHeight, cropWidth] = coverBox(h, w, height, width);
    return resized(settings, tf.slice(image, [top, left, 0], [cropHeight, cropWidth, c]), height, width);
  }
  if (settings.fit === 'contain') {
    const padding = letterboxPadding(h, w, height, width);
    if (padding[0][0] === 0 && padding[1][0] === 0) return resized(settings, image, height, width);
    checkLetterbox(h, w, padding, settings, where);
    const padded = tf.pad(image, padding, settings.fill);
    image.dispose(); // the padded copy can be twice the image: do not hold both until the tidy ends
    return resized(settings, padded, height, width);
  }
  return resized(settings, image, height, width);
}

/** The plane, turned upright (EXIF `orientation`) and fitted to the model's width x height; `where` names it in a 400. */
export function fitPlane(settings: FitSettings, plane: Plane, orientation: number, where: string): Plane {
  // The tidy returns the tensor, not its values: tf.tidy walks a returned array element by element
  // looking for tensors to keep, which costs more than the resize itself for a 224 x 224 x 3 row.
  const result = tf.tidy(() => fitted(settings, plane, orientation, where));
  try {
    return { width: settings.width, height: settings.height, channels: plane.channels, data: result.dataSync() as Float32Array };
  } finally {
    result.dispose();
  }
}
