/** The transport-free predict service every protocol and handler shares. */
import { inputTensors, instanceRowShape, type ModelInput, sizedToInput } from '../inputs/encode.js';
import type { LoadedModel } from '../loader/index.js';
import { checkOneRowFits, type RunLimits } from '../runtime/memory.js';
import { Pace } from '../runtime/timeLimit.js';
import type { TensorData } from '../tensors/data.js';
import { forwardNeed, forwardPlan, planSizeAhead, runModel } from './runModel.js';

/**
 * Checks while encoding: enough that the rest is projected from a small share (an image's decoding
 * costs a row about what the model does), few enough that the slices cost nothing worth measuring.
 */
const ENCODE_CHECKS = 32;

/**
 * The model's input tensors for a request. Natural instances are checked against the budget with
 * the forward pass that follows their encoding (forwardNeed), so the number a 413 says fit is
 * one the model then runs; a model of which not even one row's pass fits is refused first, in the
 * pass's own terms (a model of any size planned at this request's size first: planSizeAhead).
 * With `time`, they are encoded in slices timed by a Pace, so their decoding,
 * which can take as long as the model, ends in a 413 naming the figures once the rest cannot end
 * before the timeout (the forward pass is timed by inChunks).
 */
export async function requestTensors(loaded: LoadedModel, input: ModelInput, limits: RunLimits): Promise<TensorData[]> {
  return tensorsOf(await sizedToRequest(loaded, input), input, limits);
}

/** requestTensors, for a model already sized to the request. */
async function tensorsOf(loaded: LoadedModel, input: ModelInput, limits: RunLimits): Promise<TensorData[]> {
  if (input.kind !== 'instances') return input.tensors;
  const rowShape = instanceRowShape(loaded.manifest);
  if (rowShape) {
    await planSizeAhead(loaded, rowShape, limits);
    checkOneRowFits(forwardPlan(loaded, 1, rowShape, limits));
  }
  const run = forwardNeed(loaded, limits.budget);
  if (limits.time === undefined) return inputTensors(loaded.manifest, input, limits.budget, { run });
  const count = input.instances.length;
  const noun = input.noun ?? 'instances';
  const pace = new Pace(limits.time, count, `encoding the ${noun} for ${loaded.name}:${loaded.version}`, noun, 'the encoding (the model runs on them after it)');
  pace.start(0);
  return inputTensors(loaded.manifest, input, limits.budget, { run, progress: { slice: Math.ceil(count / ENCODE_CHECKS), encoded: (done) => pace.check(done) } });
}

/** With `limits.time`, timed against the function's timeout: the encoding of natural instances, then each chunk of the model's rows. */
export async function predict(loadedAsStored: LoadedModel, input: ModelInput, limits: RunLimits): Promise<TensorData[]> {
  const loaded = await sizedToRequest(loadedAsStored, input);
  // A time limit's refusal asks for fewer of what the request sent, in its words (fewer "examples").
  const worded = input.noun && limits.time ? { ...limits, time: { ...limits.time, noun: input.noun } } : limits;
  return runModel(loaded, await tensorsOf(loaded, input, worded), worded);
}

/**
 * A model of any size (an image model whose input leaves height and width open) taken at this
 * request's size, so that its budgets and plans see one row shape (inputs/openSize.ts); the same
 * model otherwise.
 */
async function sizedToRequest(loaded: LoadedModel, input: ModelInput): Promise<LoadedModel> {
  const manifest = await sizedToInput(loaded.manifest, input);
  return manifest === loaded.manifest ? loaded : { ...loaded, manifest };
}
