/**
 * What the model would receive for a request, without running it: the input tensors exactly as
 * predict builds them (natural instances through the model's input kind, raw tensors as sent),
 * and for an image model a PNG of one instance as the model sees it. How a user finds a skew
 * between their pipeline and ours in one call.
 */
import { BadRequestError } from '../errors.js';
import { inputKindOf, type ModelInput } from '../inputs/encode.js';
import { sizedToRow } from '../inputs/openSize.js';
import type { LoadedModel } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import type { TensorData } from '../tensors/data.js';
import { requestTensors } from './predict.js';
import { checkInputs } from './runModel.js';

/**
 * Refused as predict refuses it (its encoding timed as predict's, `limits.time`, and checked against
 * the budget with the forward pass that would follow it): tensors that do not fit the model's
 * inputs are not what it would receive.
 */
export async function preprocess(loaded: LoadedModel, input: ModelInput, limits: RunLimits): Promise<TensorData[]> {
  return checkInputs(loaded.manifest.signature.inputs, await requestTensors(loaded, input, limits));
}

/** The PNG of the single instance of `tensors` (an image model's first input). */
export function previewPng(loaded: LoadedModel, tensors: TensorData[]): Uint8Array {
  const [first] = tensors;
  // A model of any size: the PNG is of the size the request's image had.
  const natural = inputKindOf(sizedToRow(loaded.manifest, first.shape.slice(1)));
  if (!natural?.kind.preview) {
    throw new BadRequestError(`format png: ${loaded.name} takes ${natural ? `${natural.kind.kind} instances` : 'raw tensors'}, not images; ask for JSON`);
  }
  if (first.shape[0] !== 1) throw new BadRequestError(`format png shows one image: send one instance, not ${first.shape[0]}`);
  return natural.kind.preview(natural.settings, Float32Array.from(first.data as ArrayLike<number>));
}
