/**
 * Attributions in model-input space -> the terms of what the user sent:
 *
 *   tabular  one attribution per feature name, sorted by magnitude. Integrated gradients and
 *            kernelShap are unchanged by the standardisation (x - mean) / std: IG of the
 *            standardised input z is (z - z0) * mean gradient wrt z = (x - x0) * mean gradient
 *            wrt x, the same number, and kernelShap only evaluates the model. Gradients are not:
 *            saliency and smoothGrad are reported per unit of the feature as sent (d/dx = d/dz / std).
 *   text     one attribution per token in the original order; every occurrence of a word carries
 *            its word's attribution (a bag of words cannot tell occurrences apart), and words not in
 *            the vocabulary carry 0 and inVocabulary: false. `words` lists each distinct word once
 *            (these sum with `otherWords`, the rest of the vocabulary, to the total; gradient
 *            methods have no total, and no otherWords).
 *   image    heatmap [height][width]: the signed sum over channels (so it sums to the total); with
 *            format png also an overlay PNG (overlay.ts), base64.
 *   other    the attributions in the instance's own shape.
 */
import type { Manifest } from '../../registry/index.js';
import { nest } from '../../protocol/nested.js';
import { textOf, tokenize, vocabularyIndex } from '../../transforms/text.js';
import type { ExplainMethod } from './request.js';
import { imageShape } from './features.js';
import type { InputSpace } from './inputs.js';
import { overlayPng } from './overlay.js';

export interface MappingInput {
  manifest: Manifest;
  space: InputSpace;
  method: ExplainMethod;
  /** The instance as sent, and whether it was natural (encoded by the transform). */
  instance: unknown;
  natural: boolean;
  /** The instance as model inputs. */
  row: Float32Array;
  values: Float32Array;
  png: boolean;
}

const isGradient = (method: ExplainMethod) => method === 'saliency' || method === 'smoothGrad';

function tabular({ manifest, method, instance, natural, row, values }: MappingInput): Record<string, unknown> {
  const transform = manifest.transforms.input;
  if (transform?.kind !== 'tabular') throw new Error('tabular mapping without a tabular transform');
  const record = natural ? (instance as Record<string, number>) : undefined;
  const features = transform.features.map((f, j) => ({
    name: f.name,
    value: record ? record[f.name] : row[j],
    attribution: natural && isGradient(method) ? values[j] / f.std : values[j],
  }));
  features.sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution));
  return { features };
}

function text({ manifest, method, instance, natural, row, values }: MappingInput): Record<string, unknown> {
  const transform = manifest.transforms.input;
  if (transform?.kind !== 'text') throw new Error('text mapping without a text transform');
  const present = [...row.keys()].filter((j) => row[j] !== 0);
  const counts = new Map<number, number>();
  let tokens: { token: string; attribution: number; inVocabulary: boolean }[] | undefined;
  if (natural) {
    const index = vocabularyIndex(transform);
    tokens = tokenize(transform, textOf(instance, 'instance')).map((token) => {
      const j = index.get(token);
      if (j !== undefined) counts.set(j, (counts.get(j) ?? 0) + 1);
      return { token, attribution: j === undefined ? 0 : values[j], inVocabulary: j !== undefined };
    });
  }
  const words = present
    .map((j) => ({ word: transform.vocabulary[j], count: counts.get(j) ?? row[j], attribution: values[j] }))
    .sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution));
  // Attributions add up (completeness, efficiency); gradients do not, so their sum would mean nothing.
  if (isGradient(method)) return { ...(tokens ? { tokens } : {}), words };
  let total = 0;
  for (const v of values) total += v;
  const otherWords = total - present.reduce((s, j) => s + values[j], 0);
  return { ...(tokens ? { tokens } : {}), words, otherWords };
}

function image(input: MappingInput, shape: { height: number; width: number; channels: number }): Record<string, unknown> {
  const { height, width, channels } = shape;
  const summed = new Float32Array(height * width);
  for (let p = 0; p < height * width; p++) for (let c = 0; c < channels; c++) summed[p] += input.values[p * channels + c];
  const transform = input.manifest.transforms.input;
  const heatmap = nest(Array.from(summed), [height, width]);
  if (!input.png) return { heatmap };
  const png = overlayPng(input.row, summed, height, width, channels, transform?.kind === 'image' ? transform : undefined);
  return { heatmap, png: Buffer.from(png).toString('base64') };
}

export function mapAttribution(input: MappingInput): Record<string, unknown> {
  const transform = input.manifest.transforms.input;
  if (transform?.kind === 'tabular' && transform.features.length === input.space.size) return tabular(input);
  if (transform?.kind === 'text') return text(input);
  const shape = imageShape(input.manifest, input.space);
  if (shape) return image(input, shape);
  return { attributions: nest(Array.from(input.values), input.space.rowShape) };
}
