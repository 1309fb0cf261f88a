/**
 * Decoded pixels as float planes (0..255, interleaved HWC): grey or RGB conversion, channel
 * order, inversion. The geometry (orientation, fit, resampling) is in fit.ts.
 */
import type { Plane } from './areaResize.js';

/**
 * RGBA -> 1 (luminance 0.299R + 0.587G + 0.114B, or `greyWeights` [r, g, b] when the model's own
 * pipeline weighs them otherwise) or 3 channels, 0..255: the colour stored under the alpha
 * ('drop', as decode_png with 3 channels reads it), or composited over white ('white').
 */
export function toPlane(image: { width: number; height: number; rgba: Uint8Array }, channels: 1 | 3, alpha: 'drop' | 'white', greyWeights?: [number, number, number]): Plane {
  const n = image.width * image.height;
  const data = new Float32Array(n * channels);
  const { rgba } = image;
  const luminance = greyWeights
    ? (r: number, g: number, b: number) => greyWeights[0] * r + greyWeights[1] * g + greyWeights[2] * b
    : (r: number, g: number, b: number) => (299 * r + 587 * g + 114 * b) / 1000;
  for (let i = 0; i < n; i++) {
    const p = i * 4;
    const a = alpha === 'drop' ? 1 : rgba[p + 3] / 255;
    const white = 255 * (1 - a);
    const r = rgba[p] * a + white;
    const g = rgba[p + 1] * a + white;
    const b = rgba[p + 2] * a + white;
    if (channels === 1) data[i] = luminance(r, g, b);
    else {
      data[i * 3] = r;
      data[i * 3 + 1] = g;
      data[i * 3 + 2] = b;
    }
  }
  return { width: image.width, height: image.height, channels, data };
}

/** True when most border pixels are bright: a dark drawing on a light canvas. */
function hasLightBackground(plane: Plane): boolean {
  const { width, height, channels: c, data } = plane;
  let bright = 0;
  let total = 0;
  const visit = (x: number, y: number) => {
    const p = (y * width + x) * c;
    const v = c === 1 ? data[p] : (299 * data[p] + 587 * data[p + 1] + 114 * data[p + 2]) / 1000;
    total++;
    if (v > 127.5) bright++;
  };
  for (let x = 0; x < width; x++) {
    visit(x, 0);
    if (height > 1) visit(x, height - 1);
  }
  for (let y = 1; y < height - 1; y++) {
    visit(0, y);
    if (width > 1) visit(width - 1, y);
  }
  return bright * 2 > total;
}

/** 255 - v when asked ('auto': when the drawing is dark on a light canvas, as MNIST's is not). */
export function inverted(plane: Plane, invert: 'never' | 'always' | 'auto'): Plane {
  if (invert === 'never' || (invert === 'auto' && !hasLightBackground(plane))) return plane;
  return { ...plane, data: plane.data.map((v) => 255 - v) };
}

/** RGB -> BGR (Caffe-style models): the first and third channel swapped. */
export function toBgr(plane: Plane): Plane {
  if (plane.channels !== 3) return plane;
  const data = new Float32Array(plane.data);
  for (let p = 0; p < data.length; p += 3) {
    data[p] = plane.data[p + 2];
    data[p + 2] = plane.data[p];
  }
  return { ...plane, data };
}
