/** The transport-free predict service every protocol and handler shares. */
import { type EncodeBudget, inputTensors, type ModelInput } from '../inputs/encode.js';
import type { LoadedModel } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import { Pace, type TimeLimit } from '../runtime/timeLimit.js';
import type { TensorData } from '../tensors/data.js';
import { runModel } from './runModel.js';

/**
 * Checks while encoding: enough that the rest is projected from a small share (an image's decoding
 * costs a row about what the model does), few enough that the slices cost nothing worth measuring.
 */
const ENCODE_CHECKS = 32;

/**
 * The model's input tensors for a request; with `time`, natural instances are encoded in slices
 * timed by a Pace, so their decoding, which can take as long as the model, ends in a 413 naming the
 * figures once the rest cannot end before the timeout (the forward pass is timed by inChunks).
 */
export async function requestTensors(loaded: LoadedModel, input: ModelInput, limits: { budget: EncodeBudget; time?: TimeLimit }): Promise<TensorData[]> {
  if (limits.time === undefined || input.kind !== 'instances') return inputTensors(loaded.manifest, input, limits.budget);
  const count = input.instances.length;
  const pace = new Pace(limits.time, count, `encoding the instances for ${loaded.name}:${loaded.version}`, 'instances', 'the encoding (the model runs on them after it)');
  pace.start(0);
  return inputTensors(loaded.manifest, input, limits.budget, { slice: Math.ceil(count / ENCODE_CHECKS), encoded: (done) => pace.check(done) });
}

/** With `limits.time`, timed against the function's timeout: the encoding of natural instances, then each chunk of the model's rows. */
export async function predict(loaded: LoadedModel, input: ModelInput, limits: RunLimits): Promise<TensorData[]> {
  return runModel(loaded, await requestTensors(loaded, input, limits), limits);
}
