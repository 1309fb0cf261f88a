/**
 * One example through a model at push, on the backend the functions run (TFJS_BACKEND, wasm by
 * default): a model TF.js cannot run there (an op it does not know, an op the backend has no
 * kernel for, a graph TF.js fails on) is refused when it is pushed, with TF.js's words, instead of
 * being stored and answering every request with a 500. The example is one row of zeros (the word
 * 'example' for a string input), which every model takes; a model whose inputs have a dimension other
 * than the batch left open (an image model of any size) is not tried, as no one example is sure
 * to be valid for it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Signature } from '../registry/manifest.js';
import { predictTensors, type TfModel } from './tfModel.js';

/** The example for each input, or undefined when an input's size is not all known. */
function examples(signature: Signature): tf.Tensor[] | undefined {
  // A model with no inputs or outputs is refused for that, by name (pushFolder.ts checkSignatureUsable).
  if (signature.inputs.length === 0 || signature.outputs.length === 0) return undefined;
  const shapes = signature.inputs.map((input) => input.shape);
  if (shapes.some((shape) => shape === null || shape.slice(1).some((d) => d < 0))) return undefined;
  return signature.inputs.map(({ dtype, shape }) => {
    const known = shape as number[];
    const dims = known.length === 0 ? [] : [(known[0] as number) > 0 ? (known[0] as number) : 1, ...known.slice(1)];
    if (dtype !== 'string') return tf.zeros(dims, dtype);
    return tf.tensor(new Array<string>(dims.reduce((a, b) => a * b, 1)).fill('example'), dims, 'string');
  });
}

/** Runs the example; throws what TF.js throws (the caller says it is the model's problem). */
export async function runOneExample(model: TfModel, signature: Signature): Promise<void> {
  const feeds = examples(signature);
  if (!feeds) return;
  let outputs: tf.Tensor[] = [];
  try {
    outputs = await predictTensors(model, feeds);
    // Read back: an asynchronous backend fails when its results are read, not when they are asked for.
    await Promise.all(outputs.map((t) => t.data()));
  } finally {
    tf.dispose([...feeds, ...outputs]);
  }
}
