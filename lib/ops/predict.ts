/** The transport-free predict service every protocol and handler shares. */
import type { LoadedModel } from '../loader/index.js';
import type { PredictPlan } from '../protocol/plan.js';
import { encodeNatural } from '../transforms/natural.js';
import { runModel } from './runModel.js';
import type { TensorData } from './tensorData.js';

export async function predict(loaded: LoadedModel, plan: PredictPlan, maxBatch: number): Promise<TensorData[]> {
  const tensors = plan.kind === 'natural' ? [encodeNatural(loaded.manifest, plan.instances)] : plan.tensors;
  return runModel(loaded, tensors, maxBatch);
}
