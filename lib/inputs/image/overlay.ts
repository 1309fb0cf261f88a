/**
 * A heatmap a person can look at: the attribution map blended over the model's view of the
 * image in grey, red where attributions are positive and blue where negative, opacity growing
 * with |attribution| / max |attribution|, scaled up (nearest neighbour) to at least 224 pixels.
 */
import type { PixelScale } from './pixels.js';
import { encodePng } from './png.js';

const MIN_SIDE = 224;
const MAX_OPACITY = 0.85;

/** Grey level 0..1 of every pixel of a model-input row (HWC): the luminance of the image the model sees. */
function greyLevels(row: Float32Array, height: number, width: number, channels: number, scale?: PixelScale): Float32Array {
  const grey = new Float32Array(height * width);
  if (scale) {
    const pixel = (p: number, c: number) => (row[p * channels + c] - scale.offset[c]) / scale.scale[c];
    const [r, b] = scale.bgr ? [2, 0] : [0, 2];
    for (let p = 0; p < height * width; p++) grey[p] = channels === 3 ? 0.299 * pixel(p, r) + 0.587 * pixel(p, 1) + 0.114 * pixel(p, b) : pixel(p, 0);
    return grey.map((v) => Math.min(1, Math.max(0, v / 255)));
  }
  // A raw image model: the luminance of the values as they are, stretched from their minimum to their maximum.
  for (let p = 0; p < height * width; p++) {
    grey[p] = channels === 3 ? 0.299 * row[p * 3] + 0.587 * row[p * 3 + 1] + 0.114 * row[p * 3 + 2] : row[p * channels];
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of grey) [min, max] = [Math.min(min, v), Math.max(max, v)];
  return grey.map((v) => (max > min ? (v - min) / (max - min) : 0));
}

export function overlayPng(row: Float32Array, heatmap: Float32Array, height: number, width: number, channels: number, pixels?: PixelScale): Uint8Array {
  const grey = greyLevels(row, height, width, channels, pixels);
  let peak = 0;
  for (const v of heatmap) peak = Math.max(peak, Math.abs(v));
  const scale = Math.max(1, Math.ceil(MIN_SIDE / Math.max(height, width)));
  const outWidth = width * scale;
  const rgba = new Uint8Array(outWidth * height * scale * 4);
  for (let y = 0; y < height * scale; y++) {
    for (let x = 0; x < outWidth; x++) {
      const p = Math.floor(y / scale) * width + Math.floor(x / scale);
      const g = grey[p] * 255;
      const h = peak > 0 ? heatmap[p] / peak : 0;
      const alpha = Math.abs(h) * MAX_OPACITY;
      const o = (y * outWidth + x) * 4;
      rgba[o] = Math.round(g * (1 - alpha) + (h > 0 ? 255 : 0) * alpha);
      rgba[o + 1] = Math.round(g * (1 - alpha));
      rgba[o + 2] = Math.round(g * (1 - alpha) + (h < 0 ? 255 : 0) * alpha);
      rgba[o + 3] = 255;
    }
  }
  return encodePng(rgba, outWidth, height * scale);
}
