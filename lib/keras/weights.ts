/**
 * A Keras file's weights -> each TF.js layer's weights, whatever the file's group layout.
 *
 * Groups are named differently by each writer: a legacy `.h5` by the layer's name
 * (`model_weights/<layer>/<layer>/kernel:0`, listed by `weight_names`); a Keras 3 `.keras` by the
 * layer's class and its rank among the model's layers of that class (`layers/dense`,
 * `layers/dense_1`..., whatever the config calls them: a config's `dense_26`, `dense_27` are stored
 * as `dense`, `dense_1`); a `.keras` of Keras 2.13-2.15 by tracking names (`dense`, `dense_2`,
 * `dense_4` for the config's `dense`, `dense_1`, `dense_2`). So each layer lists the group names
 * its file's writer would have used (`names`, most likely first), takes the first such group whose
 * arrays have its shapes, and otherwise the first unused group, in the file's natural order, with
 * its shapes. Nothing is guessed silently: a layer without a fitting group, or a group of weights
 * no layer takes, is an error that names them.
 */
import { BadRequestError } from '../errors.js';

export interface WeightArray {
  shape: number[];
  data: Float32Array;
}

/** Weight arrays as the file keeps them for one layer, in the layer's order. */
export interface WeightGroup {
  /** Where the group is in the file (for messages, and the order of groups). */
  path: string;
  /** The layer name the group carries. */
  name: string;
  arrays: WeightArray[];
}

/** What one TF.js layer with weights needs. */
export interface LayerSlots {
  name: string;
  className: string;
  shapes: number[][];
  /** The group names (or whole paths) the file's writer would have given this layer, most likely first. */
  names: string[];
}

const sameShapes = (arrays: WeightArray[], shapes: number[][]) =>
  arrays.length === shapes.length && arrays.every((a, i) => a.shape.length === shapes[i].length && a.shape.every((d, j) => d === shapes[i][j]));

const describe = (shapes: number[][]) => shapes.map((s) => `[${s.join(',')}]`).join(' ');

/** For each layer (in order), its arrays. */
export function matchWeights(layers: LayerSlots[], groups: WeightGroup[]): WeightArray[][] {
  const ordered = [...groups].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  const used = new Set<WeightGroup>();
  const chosen = new Map<LayerSlots, WeightGroup>();
  for (const layer of layers) {
    for (const name of layer.names) {
      const own = ordered.find((g) => (g.path === name || g.name === name) && !used.has(g) && sameShapes(g.arrays, layer.shapes));
      if (own) {
        used.add(own);
        chosen.set(layer, own);
        break;
      }
    }
  }
  for (const layer of layers) {
    if (chosen.has(layer)) continue;
    const next = ordered.find((g) => !used.has(g) && sameShapes(g.arrays, layer.shapes));
    if (!next) {
      throw new BadRequestError(
        `no weights in the file fit layer ${layer.name} (${layer.className}, shapes ${describe(layer.shapes)}); the file's weight groups: ${
          ordered.map((g) => `${g.path} ${describe(g.arrays.map((a) => a.shape))}`).join('; ') || 'none'
        }`,
      );
    }
    used.add(next);
    chosen.set(layer, next);
  }
  const left = ordered.filter((g) => !used.has(g));
  if (left.length > 0) {
    throw new BadRequestError(`the file holds weights that no layer of its config takes: ${left.map((g) => `${g.path} ${describe(g.arrays.map((a) => a.shape))}`).join('; ')}`);
  }
  return layers.map((layer) => (chosen.get(layer) as WeightGroup).arrays);
}
