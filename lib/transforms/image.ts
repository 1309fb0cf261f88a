/**
 * Image instances -> the NHWC tensor the image model was trained on:
 * bytes -> decode -> grey or RGB (alpha over white) -> invert? -> stretch or MNIST fit -> value * scale + offset.
 * Pure functions, no I/O; the pieces live in ./image/.
 */
import { decodeImage, imageBytesOf } from './image/decode.js';
import { mnistFit } from './image/mnistFit.js';
import { resize, type Plane } from './image/resize.js';
import type { ImageTransform } from './schema.js';

export { decodeImage, imageBytesOf, isImageInstance, MAX_IMAGE_SIDE, type DecodedImage } from './image/decode.js';
export { encodePng, encodePngGray } from './image/encode.js';
export { centreOfMass, inkBox, mnistFit } from './image/mnistFit.js';
export { crop, resize, type Plane } from './image/resize.js';

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
export function hasLightBackground(plane: Plane): boolean {
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

/** One decoded image -> height x width x channels model values (before scale/offset: 0..255). */
export function preparePlane(transform: ImageTransform, plane: Plane): Plane {
  const invert = transform.invert ?? 'never';
  const source = invert === 'always' || (invert === 'auto' && hasLightBackground(plane)) ? inverted(plane) : plane;
  return (transform.fit ?? 'stretch') === 'mnist'
    ? mnistFit(source, transform.width, transform.height)
    : resize(source, transform.width, transform.height);
}

/** Image instances -> NHWC Float32Array (rows concatenated); BadRequestError names `${where}[i]`. */
export function encodeImages(transform: ImageTransform, values: unknown[], where = 'instances'): Float32Array {
  const size = transform.width * transform.height * transform.channels;
  const out = new Float32Array(values.length * size);
  values.forEach((value, r) => {
    const path = `${where}[${r}]`;
    const image = decodeImage(imageBytesOf(value, path), path);
    const plane = preparePlane(transform, toPlane(image, transform.channels));
    const row = out.subarray(r * size, (r + 1) * size);
    for (let i = 0; i < size; i++) row[i] = plane.data[i] * transform.scale + transform.offset;
  });
  return out;
}
