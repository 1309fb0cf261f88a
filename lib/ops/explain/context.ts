/** What every explainer receives, and what it answers per instance (in model-input space). */
import type { LoadedModel } from '../../loader/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import type { InputSpace, Rows } from './inputs.js';
import type { ScoreRule, TargetSpec } from './target.js';

export interface ExplainContext {
  loaded: LoadedModel;
  space: InputSpace;
  /** The instances as model-input rows. */
  instances: Rows;
  /** The model's first output at each instance, flat [count][spec.width]. */
  outputs: Float32Array;
  spec: TargetSpec;
  /** Target index and score rule of each instance. */
  targets: number[];
  rules: ScoreRule[];
  /** Target score of each instance: f(x). */
  scores: number[];
  limits: RunLimits;
}

export interface Attribution {
  /** One value per model input. */
  values: Float32Array;
  /** Method-specific numbers: convergence delta, expected value... */
  extra: Record<string, unknown>;
}
