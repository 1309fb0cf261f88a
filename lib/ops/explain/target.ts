/**
 * What is being explained: one scalar per instance, read from the model's first output as
 * probabilities for a classifier (modelFunction.ts turns logits and log-probabilities into them).
 *
 *   classification (softmax)   the probability of the target class (not the logit: a model's
 *                              logits are not in general reachable from outside it)
 *   binary (one sigmoid unit)  P(positive) for the positive target, 1 - P for the negative one
 *   regression                 the output value (target = which output column, default 0)
 *
 * Every case is linear in the output row: score = sum_j out[j] * weight[j] + constant, so the
 * gradient of a batch's summed scores gives each row's own gradient (rows are independent).
 */
import { BadRequestError, quoted } from '../../errors.js';
import { isPositive } from '../../protocol/answers.js';
import type { Manifest } from '../../registry/index.js';

export interface TargetSpec {
  /** Output columns (product of the first output's non-batch dimensions). */
  width: number;
  /** What a target index names: a class, or an output column. */
  kind: 'class' | 'binary' | 'output';
  /** Number of selectable targets: classes (binary: 2) or output columns. */
  count: number;
  labels?: string[];
}

export interface Target {
  index: number;
  label?: string;
}

/** How to read a target score from an output row. */
export interface ScoreRule {
  weights: Float32Array; // one per output column
  constant: number;
}

/** The output row's width, when the signature fixes it (else undefined: not known before the model runs). */
export function outputWidth(manifest: Manifest): number | undefined {
  const shape = manifest.signature.outputs[0]?.shape;
  if (!shape || shape.length === 0) return undefined;
  // An open dimension (-1) leaves it unknown: two of them multiplied once made an image's width 3.
  if (shape.slice(1).some((d) => d < 0)) return undefined;
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

export function targetSpec(manifest: Manifest, width: number): TargetSpec {
  if (manifest.task === 'regression') return { width, kind: 'output', count: width };
  if (width === 1) return { width, kind: 'binary', count: 2, labels: manifest.labels ?? ['0', '1'] };
  return { width, kind: 'class', count: width, labels: manifest.labels };
}

/** The request's target (index or label) as an index, or a 400 naming the choices. */
export function resolveTarget(spec: TargetSpec, requested: number | string | undefined): number | undefined {
  if (requested === undefined) return undefined;
  const choices = () => (spec.labels ? `one of ${spec.labels.map((l) => JSON.stringify(l)).join(', ')} or an index 0..${spec.count - 1}` : `an index 0..${spec.count - 1}`);
  if (typeof requested === 'number') {
    if (requested < spec.count) return requested;
    throw new BadRequestError(`target: ${requested} is out of range: expected ${choices()}`);
  }
  const byLabel = spec.labels?.indexOf(requested) ?? -1;
  if (byLabel >= 0) return byLabel;
  if (/^\d+$/.test(requested) && Number(requested) < spec.count) return Number(requested);
  throw new BadRequestError(`target: ${quoted(requested)} is not ${spec.kind === 'output' ? 'an output index' : 'a label'} of this model: expected ${choices()}`);
}

/** The predicted target of an output row: argmax, the binary rule of predict (isPositive), or output 0 for regression. */
export function predictedTarget(spec: TargetSpec, row: ArrayLike<number>): number {
  if (spec.kind === 'output') return 0;
  if (spec.kind === 'binary') return isPositive(row[0]) ? 1 : 0;
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

export function scoreRule(spec: TargetSpec, index: number): ScoreRule {
  const weights = new Float32Array(spec.width);
  if (spec.kind === 'binary') {
    weights[0] = index === 1 ? 1 : -1;
    return { weights, constant: index === 1 ? 0 : 1 };
  }
  weights[index] = 1;
  return { weights, constant: 0 };
}

export function scoreOf(rule: ScoreRule, row: ArrayLike<number>): number {
  let score = rule.constant;
  for (let j = 0; j < rule.weights.length; j++) if (rule.weights[j] !== 0) score += rule.weights[j] * row[j];
  return score;
}

export function describeTarget(spec: TargetSpec, index: number): Target {
  return spec.labels ? { index, label: spec.labels[index] } : { index };
}
