/**
 * The features kernelShap switches on and off, as groups of model inputs:
 *   tabular  one feature per column (named)
 *   text     the distinct vocabulary words present in the instance (the other 990-odd inputs of a
 *            bag of words stay at the instance's value, 0: a word that is not there cannot matter
 *            to "why this answer", and 2^1000 coalitions could not be sampled usefully)
 *   image    square patches (superpixels), 7 across by default: 4 x 4 pixels on 28 x 28, 49 features
 *   other    one feature per input value
 */
import type { Manifest } from '../../registry/index.js';
import type { InputSpace } from './inputs.js';

export interface FeatureGroups {
  names: string[];
  /** Model-input indices of each feature. */
  indices: Int32Array[];
  kind: 'columns' | 'words' | 'patches' | 'values';
  patchSize?: number;
}

/** Height, width and channels of an image-shaped row ([H, W] or [H, W, C]), else undefined. */
export function imageShape(manifest: Manifest, space: InputSpace): { height: number; width: number; channels: number } | undefined {
  const transform = manifest.transforms.input;
  if (transform?.kind === 'image') return { height: transform.height, width: transform.width, channels: transform.channels };
  const [height, width, channels = 1] = space.rowShape;
  if ((space.rowShape.length === 2 || space.rowShape.length === 3) && height > 1 && width > 1) return { height, width, channels };
  return undefined;
}

export function featureGroups(manifest: Manifest, space: InputSpace, instance: Float32Array, patchSize?: number): FeatureGroups {
  const transform = manifest.transforms.input;
  if (transform?.kind === 'tabular' && transform.features.length === space.size) {
    return { names: transform.features.map((f) => f.name), indices: transform.features.map((_, j) => Int32Array.of(j)), kind: 'columns' };
  }
  if (transform?.kind === 'text') {
    const present = [...instance.keys()].filter((j) => instance[j] !== 0);
    return { names: present.map((j) => transform.vocabulary[j]), indices: present.map((j) => Int32Array.of(j)), kind: 'words' };
  }
  const image = imageShape(manifest, space);
  if (image) {
    const { height, width, channels } = image;
    const side = patchSize ?? Math.ceil(Math.max(height, width) / 7);
    const names: string[] = [];
    const indices: Int32Array[] = [];
    for (let y0 = 0; y0 < height; y0 += side) {
      for (let x0 = 0; x0 < width; x0 += side) {
        const group: number[] = [];
        for (let y = y0; y < Math.min(height, y0 + side); y++) {
          for (let x = x0; x < Math.min(width, x0 + side); x++) for (let c = 0; c < channels; c++) group.push((y * width + x) * channels + c);
        }
        names.push(`y${y0}x${x0}`);
        indices.push(Int32Array.from(group));
      }
    }
    return { names, indices, kind: 'patches', patchSize: side };
  }
  return { names: Array.from({ length: space.size }, (_, j) => String(j)), indices: Array.from({ length: space.size }, (_, j) => Int32Array.of(j)), kind: 'values' };
}
