/**
 * MNIST's own normalisation (LeCun et al.): crop to the ink's bounding box, scale it (keeping the
 * aspect ratio) so its longer side fills 20/28 of the canvas, and paste it so that its centre of mass
 * lands on the canvas centre. Expects bright ink on a dark background (i.e. after any inversion).
 */
import { areaResize, crop, type Plane } from './areaResize.js';

/** Share of the canvas the digit's longer side fills (20 px of MNIST's 28). */
const MNIST_BOX = 20 / 28;
/** A pixel is ink when brighter than this share of the brightest pixel... */
const RELATIVE_INK = 0.2;
/** ...and than this absolute level (0..255); an image with nothing brighter has no ink. */
const MIN_INK = 24;

/** Per-pixel brightness: the value itself for grey, luminance for RGB. */
function intensity(plane: Plane): Float32Array {
  if (plane.channels === 1) return plane.data;
  const n = plane.width * plane.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = i * plane.channels;
    out[i] = (299 * plane.data[p] + 587 * plane.data[p + 1] + 114 * plane.data[p + 2]) / 1000;
  }
  return out;
}

/** Bounding box [x0, y0, x1, y1) of the ink, or undefined when there is none. */
function inkBox(plane: Plane): [number, number, number, number] | undefined {
  const ink = intensity(plane);
  let peak = 0;
  for (const v of ink) if (v > peak) peak = v;
  const threshold = Math.max(MIN_INK, RELATIVE_INK * peak);
  let x0 = plane.width;
  let y0 = plane.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < plane.height; y++) {
    for (let x = 0; x < plane.width; x++) {
      if (ink[y * plane.width + x] <= threshold) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? undefined : [x0, y0, x1 + 1, y1 + 1];
}

/** Intensity-weighted centre of mass in pixel-index coordinates (pixel i spans i..i+1, centre i+0.5). */
function centreOfMass(plane: Plane): { x: number; y: number } {
  const ink = intensity(plane);
  let total = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < plane.height; y++) {
    for (let x = 0; x < plane.width; x++) {
      const v = ink[y * plane.width + x];
      total += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return total > 0 ? { x: sx / total, y: sy / total } : { x: plane.width / 2, y: plane.height / 2 };
}

export function mnistFit(plane: Plane, width: number, height: number): Plane {
  const box = inkBox(plane);
  if (!box) return areaResize(plane, width, height);
  const digit = crop(plane, ...box);
  const scale = Math.min((MNIST_BOX * width) / digit.width, (MNIST_BOX * height) / digit.height);
  const scaled = areaResize(digit, Math.max(1, Math.min(width, Math.round(digit.width * scale))), Math.max(1, Math.min(height, Math.round(digit.height * scale))));
  const com = centreOfMass(scaled);
  // Integer shift (as in the usual MNIST recipes): the centre of mass lands within half a pixel.
  const dx = Math.round(width / 2 - com.x);
  const dy = Math.round(height / 2 - com.y);
  const c = plane.channels;
  const out = new Float32Array(width * height * c);
  for (let y = 0; y < scaled.height; y++) {
    const ty = y + dy;
    if (ty < 0 || ty >= height) continue;
    for (let x = 0; x < scaled.width; x++) {
      const tx = x + dx;
      if (tx < 0 || tx >= width) continue;
      for (let ch = 0; ch < c; ch++) out[(ty * width + tx) * c + ch] = scaled.data[(y * scaled.width + x) * c + ch];
    }
  }
  return { width, height, channels: c, data: out };
}
