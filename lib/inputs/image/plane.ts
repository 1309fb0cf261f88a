/**
 * Decoded pixels as float planes (0..255, interleaved HWC) and the geometric steps before
 * scaling: grey or RGB conversion, inversion, and the fit to the model's width and height.
 */
import { mnistFit } from './mnistFit.js';
import { resize, type Plane } from './resize.js';

/** RGBA -> 1 (luminance 0.299R + 0.587G + 0.114B) or 3 channels, alpha composited over white, 0..255. */
export function toPlane(image: { width: number; height: number; rgba: Uint8Array }, channels: 1 | 3): Plane {
  const n = image.width * image.height;
  const data = new Float32Array(n * channels);
  const { rgba } = image;
  for (let i = 0; i < n; i++) {
    const p = i * 4;
    const a = rgba[p + 3] / 255;
    const white = 255 * (1 - a);
    const r = rgba[p] * a + white;
    const g = rgba[p + 1] * a + white;
    const b = rgba[p + 2] * a + white;
    if (channels === 1) data[i] = (299 * r + 587 * g + 114 * b) / 1000;
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

function inverted(plane: Plane): Plane {
  return { ...plane, data: plane.data.map((v) => 255 - v) };
}

export interface FitSettings {
  width: number;
  height: number;
  invert: 'never' | 'always' | 'auto';
  fit: 'stretch' | 'mnist';
}

/** One decoded image -> height x width x channels model values (before scale/offset: 0..255). */
export function preparePlane(settings: FitSettings, plane: Plane): Plane {
  const source = settings.invert === 'always' || (settings.invert === 'auto' && hasLightBackground(plane)) ? inverted(plane) : plane;
  return settings.fit === 'mnist' ? mnistFit(source, settings.width, settings.height) : resize(source, settings.width, settings.height);
}
