/**
 * Builds a TF.js model from bytes already in memory (the loader fetched and checked them), for both
 * formats, and reads its signature. One GET per file happens in the loader; nothing is fetched here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { ModelFormat, ModelJson } from '../registry/artifacts.js';
import type { Signature, TensorSpec } from '../registry/manifest.js';
import { initBackend } from './backend.js';

export type TfModel = LayersModel | GraphModel;

export async function modelFromMemory(format: ModelFormat, modelJson: ModelJson, weightData: ArrayBuffer): Promise<TfModel> {
  await initBackend();
  const handler = tf.io.fromMemory({
    modelTopology: modelJson.modelTopology as object,
    weightSpecs: (modelJson.weightsManifest ?? []).flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
    weightData,
    format: modelJson.format as string | undefined,
    signature: modelJson.signature as object | undefined,
    userDefinedMetadata: modelJson.userDefinedMetadata as Record<string, unknown> | undefined,
    modelInitializer: modelJson.modelInitializer as object | undefined,
  });
  // Each format's library is imported when a model of that format is first built: a function
  // serving layers models never compiles the graph converter on its cold start, and vice versa.
  if (format === 'graph') return (await import('@tensorflow/tfjs-converter')).loadGraphModel(handler);
  return (await import('@tensorflow/tfjs-layers')).loadLayersModel(handler);
}

export function isLayersModel(model: TfModel): model is LayersModel {
  return 'layers' in model;
}

function spec(name: string, dtype: string | undefined, shape: (number | null)[] | undefined): TensorSpec {
  return {
    name,
    dtype: (dtype ?? 'float32') as TensorSpec['dtype'],
    shape: (shape ?? []).map((d) => (d === null || d === undefined || d < 0 ? -1 : d)),
  };
}

/**
 * Graph models often declare no output shapes: run one zero-filled example (batch of 1) through the
 * model to learn them, when every input dimension but the batch is known.
 */
function probeOutputShapes(model: GraphModel, inputs: TensorSpec[]): (number | null)[][] | undefined {
  if (inputs.some((input) => input.shape.length === 0 || input.shape.slice(1).some((d) => d < 0))) return undefined;
  let shapes: (number | null)[][] = [];
  tf.tidy(() => {
    const feeds = inputs.map((input) => tf.zeros([1, ...input.shape.slice(1)], input.dtype === 'int32' ? 'int32' : 'float32'));
    const result = model.predict(feeds.length === 1 ? feeds[0] : feeds);
    const outputs = result instanceof tf.Tensor ? [result] : Array.isArray(result) ? result : Object.values(result);
    shapes = outputs.map((t) => [null, ...t.shape.slice(1)]);
  });
  return shapes;
}

/** Inputs and outputs as OIP v2 metadata shows them (-1 for variable dimensions). */
export function signatureOf(model: TfModel): Signature {
  if (isLayersModel(model)) {
    // Layer names, not symbolic tensor names (which carry per-process counters such as `_1`).
    return {
      inputs: model.inputs.map((t) => spec(t.sourceLayer?.name ?? t.name, t.dtype, t.shape)),
      outputs: model.outputs.map((t) => spec(t.sourceLayer?.name ?? t.name, t.dtype, t.shape)),
    };
  }
  const inputs = model.inputs.map((t) => spec(t.name, t.dtype, t.shape));
  const unknown = model.outputs.some((t) => !t.shape || t.shape.length === 0);
  const probed = unknown ? probeOutputShapes(model, inputs) : undefined;
  return { inputs, outputs: model.outputs.map((t, i) => spec(t.name, t.dtype, probed?.[i] ?? t.shape)) };
}

/**
 * An upper estimate of one row's forward activations: every layer's output, all alive at once
 * (a layers model's topology says their shapes; undefined for graph models or unknown sizes).
 */
export function activationBytesPerRow(model: TfModel): number | undefined {
  if (!isLayersModel(model)) return undefined;
  let total = 0;
  for (const layer of model.layers) {
    const shape = layer.outputShape as (number | null)[] | (number | null)[][];
    for (const one of Array.isArray(shape[0]) ? (shape as (number | null)[][]) : [shape as (number | null)[]]) {
      const dims = one.slice(1);
      if (dims.some((d) => d === null || d < 0)) return undefined;
      total += (dims as number[]).reduce((a, b) => a * b, 1) * 4;
    }
  }
  return total;
}
