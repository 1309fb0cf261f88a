/** Model inputs back to pixels a person can look at: /preprocess PNGs and explanation overlays. */
import { encodePng } from './png.js';

/** How model values map back to pixels: value = pixel * scale[c] + offset[c] (channels in the model's order). */
export interface PixelScale {
  scale: number[];
  offset: number[];
  /** The model takes BGR: swap back to RGB for display. */
  bgr?: boolean;
}

/** The pixel (0..255, not rounded) of model value v in channel c; without a scale, min..max -> 0..255. */
function pixelOf(scale: PixelScale | undefined, row: Float32Array): (v: number, c: number) => number {
  if (scale) return (v, c) => (v - scale.offset[c]) / scale.scale[c];
  let min = Infinity;
  let max = -Infinity;
  for (const v of row) [min, max] = [Math.min(min, v), Math.max(max, v)];
  return (v) => (max > min ? ((v - min) / (max - min)) * 255 : 0);
}

/**
 * A model-input row (height x width x channels) -> RGBA bytes. Without a scale (a raw image model),
 * the row's own minimum and maximum become black and white.
 */
function rowToRgba(row: Float32Array, height: number, width: number, channels: number, scale?: PixelScale): Uint8Array {
  const value = pixelOf(scale, row);
  const pixel = (v: number, c: number) => Math.round(Math.min(255, Math.max(0, value(v, c))));
  const rgba = new Uint8Array(height * width * 4);
  for (let p = 0; p < height * width; p++) {
    if (channels === 1) {
      rgba.fill(pixel(row[p], 0), p * 4, p * 4 + 3);
    } else {
      const [r, b] = scale?.bgr ? [2, 0] : [0, 2];
      rgba[p * 4] = pixel(row[p * 3 + r], r);
      rgba[p * 4 + 1] = pixel(row[p * 3 + 1], 1);
      rgba[p * 4 + 2] = pixel(row[p * 3 + b], b);
    }
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}

/** The image a model sees, as PNG bytes. */
export function rowToPng(row: Float32Array, height: number, width: number, channels: number, scale?: PixelScale): Uint8Array {
  return encodePng(rowToRgba(row, height, width, channels, scale), width, height);
}
