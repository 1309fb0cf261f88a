/**
 * Batch normalization in a fine-tune, as Keras (since TF 2) runs it: a BatchNormalization layer
 * that is not trained runs in inference mode even when the model is called with training = true,
 * normalizing with its moving statistics and keeping them. TF.js 4.22's layer knows only the call's
 * `training` flag: in fit() every BN layer would normalize with its batch's statistics and move its
 * moving mean and variance, so a head-only fine-tune rewrote every frozen BN layer's statistics
 * (MobileNetV2: 104 weights, by up to 3.3) and its accuracy collapsed.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BadRequestError } from '../../errors.js';

type Layer = tfl.layers.Layer;
type Call = Layer['call'];
interface BatchNorm extends Layer {
  scale: boolean;
  center: boolean;
}

const isBatchNorm = (layer: Layer): layer is BatchNorm => layer.getClassName() === 'BatchNormalization';
/** A nested model's own layers (a Sequential or functional model used as a layer). */
const innerLayers = (layer: Layer): Layer[] => (layer as Partial<tfl.LayersModel>).layers ?? [];

/**
 * Every BN layer of `layers`, nested models' included, once each, with whether it is trained (a
 * top-level layer holding it is in `trained`). Once each: a layer shared by two nested models is
 * one layer (one `call`, one set of weights), and wrapping it twice would leave a wrapper behind.
 */
function batchNormLayers(layers: Layer[], trained: (top: Layer) => boolean): { layer: BatchNorm; isTrained: boolean }[] {
  const found = new Map<BatchNorm, boolean>();
  const walk = (layer: Layer, isTrained: boolean) => {
    if (isBatchNorm(layer)) found.set(layer, isTrained || (found.get(layer) ?? false));
    for (const inner of innerLayers(layer)) walk(inner, isTrained);
  };
  for (const layer of layers) walk(layer, trained(layer));
  return [...found].map(([layer, isTrained]) => ({ layer, isTrained }));
}

/**
 * Runs the model's BN layers outside `trained` (layer names, as chosenLayers gives them) in
 * inference mode until the returned function is called. Why the instances' `call` is wrapped: both
 * ways a fine-tune runs the model in training mode (fit()'s executor, and the step measurement's
 * model.apply through the model's internal graph) reach a layer through its `call(inputs, kwargs)`
 * with kwargs.training, and the class has no other switch (its `trainable` flag only keeps its
 * gamma and beta from the gradients). Wrapping only these instances, only while the
 * fine-tune trains or measures, leaves the class and every other model alone; the wrapper is
 * removed afterwards, so the serving instance a submission measures on is as it was.
 */
export function frozenBatchNormInInference(model: tfl.LayersModel, trained: string[]): () => void {
  const wrapped: { layer: Layer; own: Call | undefined }[] = [];
  for (const { layer, isTrained } of batchNormLayers(model.layers, (top) => trained.includes(top.name))) {
    if (isTrained) continue;
    const own = Object.hasOwn(layer, 'call') ? layer.call : undefined;
    const original = layer.call;
    layer.call = function (this: Layer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>) {
      return original.call(this, inputs, { ...kwargs, training: false });
    } as Call;
    wrapped.push({ layer, own });
  }
  return () => {
    // In reverse, so each layer gets back what it had before even if it were wrapped twice.
    for (const { layer, own } of [...wrapped].reverse()) {
      if (own === undefined) delete (layer as Partial<Layer>).call;
      else layer.call = own;
    }
  };
}

/**
 * TF.js 4.22's BN layer cannot train without its scale (gamma) or offset (beta): its training
 * branch reads both unconditionally (normalization.ts), a TypeError mid-job. Such a layer is fine
 * frozen (inference mode reads them only if present); trained, the request is refused with a 400 naming it.
 */
export function refuseUntrainableBatchNorm(model: tfl.LayersModel, trained: string[]): void {
  const lacking = batchNormLayers(model.layers, (top) => trained.includes(top.name)).filter(({ layer, isTrained }) => isTrained && (!layer.scale || !layer.center));
  if (lacking.length === 0) return;
  const named = lacking.slice(0, 10).map(({ layer }) => `${layer.name} (${[!layer.scale && 'scale', !layer.center && 'center'].filter(Boolean).join(' and ')}: false)`);
  const more = lacking.length > 10 ? ` and ${lacking.length - 10} more` : '';
  // The most of the model's last layers with weights that hold none of them: InceptionV3 has 94
  // such layers, too many to list, and "all" (the default) includes them.
  const untrainable = new Set(lacking.map(({ layer }) => layer));
  const holdsOne = (top: Layer) => batchNormLayers([top], () => true).some(({ layer }) => untrainable.has(layer));
  const withWeights = model.layers.filter((l) => l.weights.length > 0);
  let last = 0;
  while (last < withWeights.length && !holdsOne(withWeights[withWeights.length - 1 - last])) last += 1;
  const instead = last >= 1 ? `, e.g. {"last": ${last}} (the last ${last} layers with weights, none of them such a layer)` : '';
  throw new BadRequestError(
    `trainableLayers includes BatchNormalization layer(s) without scale or offset, which TF.js cannot train: ${named.join(', ')}${more}; ` +
      `leave them out of trainableLayers (they then run in inference mode, with their moving statistics)${instead}`,
  );
}
