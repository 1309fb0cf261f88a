/**
 * The transport-free explain service: instances -> model inputs -> one forward pass (predictions,
 * default targets, f(x)) -> the method's attributions in model-input space -> mapped back to
 * features, words or pixels. The answer has the shape Alibi-style explainers use:
 * `{meta, data, predictions}`.
 */
import { BadRequestError } from '../../errors.js';
import { instanceRowShape, sizedToValues } from '../../inputs/encode.js';
import type { LoadedModel } from '../../loader/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import { checkFiniteOutput, toAnswers, type Answer } from '../../protocol/answers.js';
import { checkScoresByRow } from '../../protocol/probabilities.js';
import { checkAnswerSize, type AnswerLimit } from './answerSize.js';
import type { Attribution, ExplainContext } from './context.js';
import { checkFiniteAttributions } from './finite.js';
import { imageShape } from './features.js';
import { encodeInstancesCounted } from './instanceCount.js';
import { integratedGradients } from './integratedGradients.js';
import { kernelShap } from './kernelShap.js';
import { mapAttribution } from './mapping.js';
import { passOf } from './memoryNeed.js';
import { checkPassFits, checkPassMemory, forwardRows, planPassAhead } from './modelFunction.js';
import type { ExplainMethod, ExplainRequest } from './request.js';
import { saliency } from './saliency.js';
import { smoothGrad } from './smoothGrad.js';
import { describeTarget, predictedTarget, resolveTarget, scoreOf, scoreRule, targetSpec, type Target, type TargetSpec } from './target.js';

export interface InstanceExplanation {
  target: Target;
  /** The target score at the instance, f(x). */
  score: number;
  [field: string]: unknown;
}

export interface ExplainAnswer {
  meta: {
    method: ExplainMethod;
    params: Record<string, unknown>;
    modelName: string;
    modelVersion: string;
    /** What the explained number is. */
    score: string;
    /** The model output it is read from (of a model with several, the one answers read: manifest.answerOutput). */
    output: string;
  };
  data: { explanations: InstanceExplanation[] };
  predictions: Answer[];
}

function scoreMeaning(spec: TargetSpec): string {
  if (spec.kind === 'binary') return 'probability of the target class (sigmoid output p for the positive class, 1 - p for the negative one)';
  if (spec.kind === 'class') return 'probability of the target class (softmax output)';
  return 'the output value (target = output index)';
}

/**
 * The shape of one row of the explained output as predict answers it: the model runs on rows flattened
 * to `width` values, and a regression answer of several values (a pose's 17 x 3 keypoints) is nested
 * as the declared output's row is. A row the declaration does not fix (an unknown side, or a size
 * other than `width`) stays flat.
 */
function answerRowShape(declared: readonly number[] | null | undefined, width: number): number[] {
  const row = declared?.slice(1) ?? [];
  const fixed = row.length > 0 && row.every((side) => side > 0) && row.reduce((a, b) => a * b, 1) === width;
  return fixed ? row : [width];
}

/** `answerLimit`: the bytes the answer may take as sent (none: no limit, as in modelctl). */
export async function explain(loadedAsStored: LoadedModel, request: ExplainRequest, limits: RunLimits, answerLimit?: AnswerLimit): Promise<ExplainAnswer> {
  // A model of any size is explained at the size of the request's first instance (inputs/openSize.ts).
  const sizedManifest = await sizedToValues(loadedAsStored.manifest, request.instances, (i) => `instances[${i}]`);
  const loaded = sizedManifest === loadedAsStored.manifest ? loadedAsStored : { ...loadedAsStored, manifest: sizedManifest };
  const { manifest } = loaded;
  checkScoresByRow(manifest, manifest.signature.outputs[0]?.shape ?? null);
  const png = request.format === 'png';
  // Natural instances: the method's pass checked first, in its own terms, then counted with their rows.
  const natural = instanceRowShape(manifest);
  if (natural) {
    await planPassAhead(loaded, passOf(request.method), limits, natural);
    checkPassMemory(loaded, passOf(request.method), limits, natural);
  }
  const { rows: instances, space } = await encodeInstancesCounted(loaded, request, limits, natural, answerLimit);
  if (png && !imageShape(manifest, space)) throw new BadRequestError(`format png: ${manifest.name} is not an image model; its attributions have no heatmap`);

  // Before any pass: an answer that cannot be returned is not computed (nor held in memory whole).
  checkAnswerSize(manifest, space, instances, request, answerLimit, limits.budget);
  if (!natural) await planPassAhead(loaded, passOf(request.method), limits, space.rowShape);
  checkPassFits(loaded, passOf(request.method), limits, space);
  const { outputs, width } = await forwardRows(loaded, space, instances.count, (from, to, out) => out.set(instances.data.subarray(from * space.size, to * space.size)), limits);
  // Before any attribution is computed: a NaN score has no target to explain.
  const outputTensor = { name: manifest.signature.outputs[0]?.name ?? 'output', dtype: 'float32' as const, shape: [instances.count, width], data: outputs };
  checkFiniteOutput(outputTensor, (r) => `instances[${r}]`);
  const spec = targetSpec(manifest, width);
  const requested = resolveTarget(spec, request.target);
  const outputRow = (i: number) => outputs.subarray(i * width, (i + 1) * width);
  const targets = Array.from({ length: instances.count }, (_, i) => requested ?? predictedTarget(spec, outputRow(i)));
  const rules = targets.map((t) => scoreRule(spec, t));
  const scores = rules.map((rule, i) => scoreOf(rule, outputRow(i)));
  const context: ExplainContext = { loaded, space, instances, outputs, spec, targets, rules, scores, limits };

  let result: { attributions: Attribution[]; params: object };
  switch (request.method) {
    case 'integratedGradients':
      result = await integratedGradients(context, request);
      break;
    case 'saliency':
      result = await saliency(context);
      break;
    case 'smoothGrad':
      result = await smoothGrad(context, request);
      break;
    case 'kernelShap':
      result = await kernelShap(context, request);
      break;
  }
  checkFiniteAttributions(request.method, result.attributions);

  const explanations = result.attributions.map(
    (attribution, i): InstanceExplanation => ({
      target: describeTarget(spec, targets[i]),
      score: scores[i],
      ...attribution.extra,
      ...mapAttribution(manifest, space, {
        instance: request.instances[i],
        natural: instances.natural,
        row: instances.data.subarray(i * space.size, (i + 1) * space.size),
        values: attribution.values,
        gradient: request.method === 'saliency' || request.method === 'smoothGrad',
        png,
      }),
    }),
  );
  return {
    meta: {
      method: request.method,
      params: { target: request.target ?? 'predicted', ...result.params },
      modelName: loaded.name,
      modelVersion: String(loaded.version),
      score: scoreMeaning(spec),
      output: manifest.signature.outputs[0].name,
    },
    data: { explanations },
    // The outputs are probabilities already (modelFunction.ts): read as such, not converted twice.
    predictions: toAnswers({ ...manifest, scores: 'probabilities' }, { ...outputTensor, shape: [instances.count, ...answerRowShape(manifest.signature.outputs[0]?.shape, width)] }),
  };
}
