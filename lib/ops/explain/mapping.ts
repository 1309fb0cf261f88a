/**
 * Attributions in model-input space -> the terms of what the user sent: the model's input kind
 * maps them (per feature, per token, per pixel); a raw model's image-shaped rows get a heatmap,
 * other raw rows their attributions in the instance's own shape.
 */
import { inputKindOf } from '../../inputs/encode.js';
import { heatmapAnswer } from '../../inputs/image/attributions.js';
import type { AttributionView } from '../../inputs/kind.js';
import type { Manifest } from '../../registry/index.js';
import { nest } from '../../tensors/nested.js';
import { imageShape } from './features.js';
import type { InputSpace } from './inputs.js';

export function mapAttribution(manifest: Manifest, space: InputSpace, view: AttributionView): Record<string, unknown> {
  const natural = inputKindOf(manifest);
  const own = natural?.kind.mapAttributions(natural.settings, view);
  if (own) return own;
  const shape = imageShape(manifest, space);
  if (shape) return heatmapAnswer(shape, view.row, view.values, view.png);
  return { attributions: nest(Array.from(view.values), space.rowShape) };
}
