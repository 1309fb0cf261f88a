/**
 * One example through a model at push, on the backend the functions run (TFJS_BACKEND, wasm by
 * default): a model TF.js cannot run there (an op it does not know, an op the backend has no
 * kernel for, a graph TF.js fails on) is refused when it is pushed, with TF.js's words, instead of
 * being stored and answering every request with a 500. The example is tfModel.ts's exampleFeeds:
 * a row of zeros, which every model takes; a model with an input of open size is not tried.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Signature } from '../registry/manifest.js';
import { exampleFeeds, predictTensors, type TfModel } from './tfModel.js';

/** Runs the example; throws what TF.js throws (the caller says it is the model's problem). */
export async function runOneExample(model: TfModel, signature: Signature): Promise<void> {
  // A model with no inputs or outputs is refused for that, by name (pushFolder.ts checkSignatureUsable).
  if (signature.inputs.length === 0 || signature.outputs.length === 0) return;
  // A scope: executeAsync leaves what it computed behind when it throws, and a refused model is
  // what this run is for. Nothing else runs in a push's process meanwhile (one request at a time).
  tf.engine().startScope();
  try {
    const feeds = exampleFeeds(signature.inputs);
    if (!feeds) return;
    const outputs = await predictTensors(model, feeds);
    // Read back: an asynchronous backend fails when its results are read, not when they are asked for.
    await Promise.all(outputs.map((t) => t.data()));
  } finally {
    tf.engine().endScope();
  }
}
