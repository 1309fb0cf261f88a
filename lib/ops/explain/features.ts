/**
 * The features KernelSHAP switches on and off, as groups of model inputs: what the model's input
 * kind defines (tabular columns, the words present in a text, image patches); for a raw model,
 * square patches when its rows are image-shaped ([H, W], [H, W, C], or channels first [3 or 4, H, W]),
 * else one per input value.
 */
import { inputKindOf } from '../../inputs/encode.js';
import { patchGroups } from '../../inputs/image/attributions.js';
import type { FeatureGroups, ImageShape } from '../../inputs/kind.js';
import type { Manifest } from '../../registry/index.js';
import type { InputSpace } from './inputs.js';

/** A side that is an image's channels: grey, RGB, RGBA. */
const CHANNELS = new Set([1, 3, 4]);

/**
 * Height, width and channels of image-shaped instances, else undefined. A raw row [C, H, W] whose
 * first side is a colour image's channels (3 or 4) and last is not an image's channels is channels
 * first (a model converted from PyTorch: human's nanodet takes [3, 416, 416]); read as [H, W, C] it
 * was a 3-pixel-high heatmap of 416 channels. A leading 1 is not taken for a grey channel: [1, 128,
 * 768] is as likely a sequence's embeddings, whose attributions keep their shape.
 */
export function imageShape(manifest: Manifest, space: InputSpace): ImageShape | undefined {
  const natural = inputKindOf(manifest);
  if (natural) return natural.kind.imageShape(natural.settings);
  const sides = space.rowShape;
  if (sides.length === 3 && sides[0] >= 3 && CHANNELS.has(sides[0]) && !CHANNELS.has(sides[2]) && sides[1] > 1)
    return { channels: sides[0], height: sides[1], width: sides[2], layout: 'chw' };
  const [height, width, channels = 1] = sides;
  if ((space.rowShape.length === 2 || space.rowShape.length === 3) && height > 1 && width > 1) return { height, width, channels };
  return undefined;
}

export function featureGroups(manifest: Manifest, space: InputSpace, instance: Float32Array, patchSize?: number): FeatureGroups {
  const natural = inputKindOf(manifest);
  const own = natural?.kind.featureGroups(natural.settings, instance, { patchSize });
  if (own) return own;
  const image = imageShape(manifest, space);
  if (image) return patchGroups(image, patchSize);
  return { names: Array.from({ length: space.size }, (_, j) => String(j)), indices: Array.from({ length: space.size }, (_, j) => Int32Array.of(j)), kind: 'values' };
}

/**
 * The groups (by index) whose inputs differ from the instance's in some background row. In the
 * others every row the model is fed holds the instance's values whatever the coalition: their
 * Shapley value is exactly 0 (the dummy property). They are left out of the regression, as the
 * shap library's KernelExplainer leaves them out: sampled, they drew values of their own (a digit's
 * blank border patches, 15 of 49, up to 12% of the largest patch's value) and coalitions with them.
 */
export function varyingGroups(indices: Int32Array[], instance: Float32Array, background: Float32Array[]): number[] {
  return indices.flatMap((inputs, g) => (background.some((b) => inputs.some((j) => b[j] !== instance[j])) ? [g] : []));
}
