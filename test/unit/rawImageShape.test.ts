/**
 * Which raw rows (a model pushed without image settings) are explained as images: channels last
 * [H, W] and [H, W, C], channels first [3 or 4, H, W] (models converted from PyTorch), and not
 * a row that only looks like one ([1, 128, 768]: a sequence's embeddings keep their shape).
 */
import { expect, it } from 'vitest';
import { imageShape } from '../../lib/ops/explain/features.js';
import type { InputSpace } from '../../lib/ops/explain/inputs.js';
import type { Manifest } from '../../lib/registry/index.js';

const raw = { transforms: {} } as Manifest;
const shapeOf = (rowShape: number[]) => imageShape(raw, { rowShape } as unknown as InputSpace);

it.each([
  [[28, 28], { height: 28, width: 28, channels: 1 }],
  [[4, 4, 3], { height: 4, width: 4, channels: 3 }],
  [[3, 3, 3], { height: 3, width: 3, channels: 3 }],
  [[224, 224, 4], { height: 224, width: 224, channels: 4 }],
  [[3, 416, 416], { height: 416, width: 416, channels: 3, layout: 'chw' }],
  [[4, 64, 32], { height: 64, width: 32, channels: 4, layout: 'chw' }],
])('%j is an image: %j', (rowShape, expected) => {
  expect(shapeOf(rowShape)).toEqual(expected);
});

it.each([[[1, 128, 768]], [[4]], [[1, 28]], [[2, 3, 4, 5]]])('%j is not read as an image', (rowShape) => {
  expect(shapeOf(rowShape)).toBeUndefined();
});
