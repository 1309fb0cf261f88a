import type { TensorData } from '../ops/tensorData.js';

/** What a decoded request asks to run: raw tensors, or natural instances for the input transform. */
export type PredictPlan = { kind: 'tensors'; tensors: TensorData[] } | { kind: 'natural'; instances: unknown[] };
