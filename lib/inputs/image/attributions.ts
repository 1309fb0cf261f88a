/**
 * Attributions on image-shaped inputs (an image kind's, or a raw [H, W, C] tensor's): square
 * patches as KernelSHAP's features, and the per-pixel heatmap (signed sum over channels, so it keeps
 * the total) with an optional PNG overlay.
 */
import { nest } from '../../tensors/nested.js';
import type { FeatureGroups, ImageShape } from '../kind.js';
import { overlayPng } from './overlay.js';
import type { PixelScale } from './pixels.js';

/** Where the i-th value of a height x width x channels walk lies in a row of the shape's layout. */
export function hwcIndex(shape: ImageShape): (i: number) => number {
  if (shape.layout !== 'chw') return (i) => i;
  const { channels, height, width } = shape;
  return (i) => (i % channels) * height * width + Math.floor(i / channels);
}

/** A row of the shape's layout as height x width x channels, which heatmaps and previews read. */
export function asHwc(shape: ImageShape, row: Float32Array): Float32Array {
  if (shape.layout !== 'chw') return row;
  const at = hwcIndex(shape);
  return Float32Array.from({ length: row.length }, (_, i) => row[at(i)]);
}

/** Square patches, `patchSize` pixels across (default: 7 patches across; 4 x 4 pixels on 28 x 28), as indices into a row of the shape's layout. */
export function patchGroups(shape: ImageShape, patchSize?: number): FeatureGroups {
  const { height, width, channels } = shape;
  const at = hwcIndex(shape);
  const side = patchSize ?? Math.ceil(Math.max(height, width) / 7);
  const names: string[] = [];
  const indices: Int32Array[] = [];
  for (let y0 = 0; y0 < height; y0 += side) {
    for (let x0 = 0; x0 < width; x0 += side) {
      const group: number[] = [];
      for (let y = y0; y < Math.min(height, y0 + side); y++) {
        for (let x = x0; x < Math.min(width, x0 + side); x++) for (let c = 0; c < channels; c++) group.push(at((y * width + x) * channels + c));
      }
      names.push(`y${y0}x${x0}`);
      indices.push(Int32Array.from(group));
    }
  }
  return { names, indices, kind: 'patches', patchSize: side };
}

/** heatmap [height][width]; with png, a base64 overlay of it on the image as the model sees it. `row` and `values` are in the shape's layout. */
export function heatmapAnswer(shape: ImageShape, modelRow: Float32Array, modelValues: Float32Array, png: boolean, scale?: PixelScale): Record<string, unknown> {
  const { height, width, channels } = shape;
  const [row, values] = [asHwc(shape, modelRow), asHwc(shape, modelValues)];
  const summed = new Float32Array(height * width);
  for (let p = 0; p < height * width; p++) for (let c = 0; c < channels; c++) summed[p] += values[p * channels + c];
  const heatmap = nest(Array.from(summed), [height, width]);
  if (!png) return { heatmap };
  const overlay = overlayPng(row, summed, height, width, channels, scale);
  return { heatmap, png: Buffer.from(overlay).toString('base64') };
}
