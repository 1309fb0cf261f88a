/**
 * KernelSHAP: model-agnostic Shapley values of the features (features.ts) from model outputs
 * alone, so it works for any model, graph models without gradients included.
 *
 * The value of a coalition z is E_b[f(h(z, b))] over the background rows b, where h takes the
 * instance's inputs for the features in z and the background's for the others (inputs that are
 * not features keep the instance's values). Only features that vary (differ from the instance in
 * some background row) take part: the others are exactly 0 (features.ts). With at most 10 of them
 * every coalition is enumerated, which makes the values exact; beyond that nSamples coalitions are
 * drawn (shapley.ts). Either way sum(values) = f(x) - expectedValue,
 * where expectedValue = E_b[f(h(0, b))] (for tabular models: the mean prediction over the background).
 */
import { BadRequestError, PayloadTooLargeError } from '../../errors.js';
import type { Attribution, ExplainContext } from './context.js';
import { featureGroups, varyingGroups } from './features.js';
import { forwardRows } from './modelFunction.js';
import { uniform } from '../../random.js';
import { checkReferenceOutputs } from './finite.js';
import { backgroundPlace, backgroundRows } from './reference.js';
import { LIMITS, type ExplainRequest, type KernelShapParams } from './request.js';
import { Pace } from '../../runtime/timeLimit.js';
import { coalitionAt, coalitionCount, coalitionDesign, shapleyValues } from './shapley.js';
import { scoreOf } from './target.js';

const KERNEL_SHAP_DEFAULTS = { nSamples: 2048, seed: 0 } as const;
/** Up to this many features, every coalition is evaluated: exact Shapley values. */
const EXACT_FEATURES = 10;
/** What the features are, for a patchSize sent where there are no patches (it was ignored without a word). */
const FEATURES_ARE = { columns: 'its columns', words: 'the words present', values: 'its input values', patches: 'image patches' } as const;

/**
 * Refuses, before any coalition is drawn, a regression too large for one request (LIMITS.shapRegression):
 * 16,384 one-pixel features with 16,385 coalitions asked for 2 GB and hours of arithmetic.
 */
function checkRegressionFits(instance: number, features: number, total: number, coalitions: number, patchSize: number | undefined): void {
  const operations = coalitions * (features - 1) ** 2;
  if (operations <= LIMITS.shapRegression) return;
  const largest = Math.floor(Math.sqrt(LIMITS.shapRegression / coalitions)) + 1;
  const samples = Math.floor(LIMITS.shapRegression / (features - 1) ** 2);
  const fewer = patchSize !== undefined ? `a larger patchSize (now ${patchSize}: fewer, larger features)` : 'fewer features';
  throw new PayloadTooLargeError(
    `kernelShap: instances[${instance}] has ${features} features that vary (of ${total}); with ${coalitions} coalitions (nSamples) its regression takes ${(operations / 1e9).toFixed(1)}e9 multiply-adds, ` +
      `and one request may take ${LIMITS.shapRegression / 1e9}e9: with ${features} features at most nSamples ${samples} fits` +
      `${samples > features ? '' : ' (too few for the regression)'}, and at nSamples ${coalitions} at most ${largest} features. Ask for ${fewer} or a lower nSamples`,
  );
}

/** A 400 when the regression of `m` features would have fewer coalitions than features. */
function checkEnoughCoalitions(instance: number, m: number, total: number, coalitions: number): void {
  if (coalitions >= m) return;
  throw new BadRequestError(
    `nSamples: instances[${instance}] has ${m} features that vary (of ${total}); the regression needs more coalitions than features: send nSamples > ${m} (default ${KERNEL_SHAP_DEFAULTS.nSamples})`,
  );
}

export async function kernelShap(context: ExplainContext, request: ExplainRequest): Promise<{ attributions: Attribution[]; params: KernelShapParams }> {
  const { loaded, space, instances, rules, limits } = context;
  const { size } = space;
  const nSamples = request.nSamples ?? KERNEL_SHAP_DEFAULTS.nSamples;
  const seed = request.seed ?? KERNEL_SHAP_DEFAULTS.seed;
  const background = await backgroundRows(loaded.manifest, space, request.background, limits.budget);
  const bgCount = background.rows.length;
  let patchSize: number | undefined;

  // Each instance's coalitions are drawn when it is explained, not all up front: 65,536 of 196
  // features were 70 MB of masks and their keys an instance (13 MB now, one array: shapley.ts), and
  // 15 such instances drawn before any was explained took a 256 MB function to 634 MB. What can be refused is refused first, on the
  // most coalitions each design may hold (shapley.ts's coalitionCount).
  const plans = Array.from({ length: instances.count }, (_, i) => {
    const x = instances.data.subarray(i * size, (i + 1) * size);
    const groups = featureGroups(loaded.manifest, space, x, request.patchSize);
    if (request.patchSize !== undefined && groups.kind !== 'patches') {
      throw new BadRequestError(`patchSize: ${loaded.name}'s kernelShap features are ${FEATURES_ARE[groups.kind]}, not image patches; send no patchSize`);
    }
    patchSize ??= groups.patchSize;
    const varying = varyingGroups(groups.indices, x, background.rows);
    const m = varying.length;
    const budget = m <= EXACT_FEATURES ? Infinity : nSamples;
    const coalitions = coalitionCount(m, budget);
    checkRegressionFits(i, m, groups.names.length, coalitions, groups.patchSize);
    if (m > EXACT_FEATURES) checkEnoughCoalitions(i, m, groups.names.length, coalitions);
    return { x, groups, varying, m, budget, coalitions };
  });
  const rowsNeeded = plans.reduce((n, p) => n + (p.coalitions + 1) * bgCount, 0);
  if (rowsNeeded > LIMITS.modelRows) {
    throw new BadRequestError(
      `kernelShap would evaluate ${rowsNeeded} rows (coalitions x ${bgCount} background rows); one request may take ${LIMITS.modelRows}: lower nSamples or send a smaller background`,
    );
  }

  const attributions: Attribution[] = [];
  const explaining = new Pace(limits.time, instances.count, 'kernelShap', 'instances', 'this request');
  explaining.start(0);
  // Drawing coalitions and solving each regression happen outside the model's chunks: they are
  // timed with them, per instance, against the whole request's time.
  for (const [i, { x, groups, varying, m, budget }] of plans.entries()) {
    const design = coalitionDesign(m, budget, uniform(seed + i));
    // Fewer than asked for when its draws ran out on repeats: checked again on what was drawn.
    if (!design.exact) checkEnoughCoalitions(i, m, groups.names.length, design.count);
    // Coalition 0 is the empty one (every feature from the background), then the design's.
    const empty = new Uint8Array(m);
    const coalitions = design.count + 1;
    const count = coalitions * bgCount;
    const { outputs, width } = await forwardRows(
      loaded,
      space,
      count,
      (from, to, out) => {
        for (let r = from; r < to; r++) {
          const c = Math.floor(r / bgCount);
          const z = c === 0 ? empty : coalitionAt(design, c - 1);
          const b = background.rows[r % bgCount];
          const row = out.subarray((r - from) * size, (r - from + 1) * size);
          row.set(x);
          for (let g = 0; g < m; g++) {
            if (z[g]) continue;
            for (const j of groups.indices[varying[g]]) row[j] = b[j];
          }
        }
      },
      limits,
    );
    // Coalition 0 takes every feature from the background: its rows' outputs are checked as the
    // instances' are, and named as the background rows (their mean is the expected value).
    checkReferenceOutputs(outputs.subarray(0, bgCount * width), width, backgroundPlace(background.kind));
    const coalitionValues = new Float64Array(coalitions);
    for (let r = 0; r < count; r++) coalitionValues[Math.floor(r / bgCount)] += scoreOf(rules[i], outputs.subarray(r * width, (r + 1) * width)) / bgCount;
    const expectedValue = coalitionValues[0];
    const phi = shapleyValues(design, coalitionValues.subarray(1), expectedValue, context.scores[i], m);
    // Spread each feature's value over its inputs, so that heatmaps keep the sum (features that do not vary: 0).
    const shapValues = new Array<number>(groups.names.length).fill(0);
    for (const [k, g] of varying.entries()) shapValues[g] = phi[k];
    const values = new Float32Array(size);
    for (const [g, inputs] of groups.indices.entries()) for (const j of inputs) values[j] = shapValues[g] / inputs.length;
    attributions.push({
      values,
      extra: {
        expectedValue,
        exact: design.exact,
        coalitions: design.count + 2,
        shapValues,
        featureNames: groups.names,
      },
    });
    explaining.check(i + 1);
  }
  const params: KernelShapParams = { nSamples, background: background.kind, seed, ...(patchSize !== undefined ? { patchSize } : {}) };
  return { attributions, params };
}
