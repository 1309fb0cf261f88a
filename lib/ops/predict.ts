/** The transport-free predict service every protocol and handler shares. */
import { inputTensors, type ModelInput } from '../inputs/encode.js';
import type { LoadedModel } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import type { TensorData } from '../tensors/data.js';
import { runModel } from './runModel.js';

export async function predict(loaded: LoadedModel, input: ModelInput, limits: RunLimits): Promise<TensorData[]> {
  return runModel(loaded, await inputTensors(loaded.manifest, input, limits.budget), limits);
}
