/**
 * The geometry between the decoded image and the model's width x height: EXIF orientation first,
 * then the fit, resampled with TF.js's own image ops on the active backend (so a model trained
 * with tf.image.resizeBilinear or resizeNearestNeighbor sees exactly what its pipeline gave it):
 *
 *   stretch   the whole image resized to width x height (aspect ratio not kept)
 *   cover     the centred crop with the target's aspect ratio, then resized: Keras's smart_resize
 *             (the short side fills the target, the long side is cut evenly on both ends)
 *   contain   resized to fit inside, centred, the rest filled with `fill` (letterbox)
 *   mnist     crop to the ink, fit a 20/28 box, centre by centre of mass (area resampling)
 *
 * `area` resampling is ours (areaResize.ts; TF.js has no area op): the coverage-weighted mean of
 * the source pixels when shrinking.
 */
import * as tf from '@tensorflow/tfjs-core';
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

/** The fitted image as a tensor (built inside the caller's tidy). */
function fitted(settings: FitSettings, plane: Plane, orientation: number): tf.Tensor3D {
  const { width, height } = settings;
  const c = plane.channels;
  const image = oriented(tf.tensor3d(plane.data, [plane.height, plane.width, c]), orientation);
  const [h, w] = image.shape;
  if (settings.fit === 'mnist') {
    return tf.tensor3d(mnistFit({ width: w, height: h, channels: c, data: image.dataSync() as Float32Array }, width, height).data, [height, width, c]);
  }
  if (settings.fit === 'cover') {
    const [top, left, cropHeight, cropWidth] = coverBox(h, w, height, width);
    return resized(settings, tf.slice(image, [top, left, 0], [cropHeight, cropWidth, c]), height, width);
  }
  if (settings.fit === 'contain') {
    const scale = Math.min(width / w, height / h);
    const innerHeight = Math.max(1, Math.min(height, Math.round(h * scale)));
    const innerWidth = Math.max(1, Math.min(width, Math.round(w * scale)));
    const top = Math.floor((height - innerHeight) / 2);
    const left = Math.floor((width - innerWidth) / 2);
    const padding: [number, number][] = [
      [top, height - innerHeight - top],
      [left, width - innerWidth - left],
      [0, 0],
    ];
    return tf.pad(resized(settings, image, innerHeight, innerWidth), padding, settings.fill);
  }
  return resized(settings, image, height, width);
}

/** The plane, turned upright (EXIF `orientation`) and fitted to the model's width x height. */
export function fitPlane(settings: FitSettings, plane: Plane, orientation: number): Plane {
  // The tidy returns the tensor, not its values: tf.tidy walks a returned array element by element
  // looking for tensors to keep, which costs more than the resize itself for a 224 x 224 x 3 row.
  const result = tf.tidy(() => fitted(settings, plane, orientation));
  try {
    return { width: settings.width, height: settings.height, channels: plane.channels, data: result.dataSync() as Float32Array };
  } finally {
    result.dispose();
  }
}
