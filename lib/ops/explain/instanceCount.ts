/**
 * The request's instances as rows, natural ones counted with what explaining them holds
 * (memoryNeed.ts's explainNeed) before they are encoded; a 413 for too many names the count that
 * both the memory and the answer's size allow, so that the request it names is then served.
 */
import { PayloadTooLargeError } from '../../errors.js';
import { TooManyInstancesError } from '../../inputs/budget.js';
import type { LoadedModel } from '../../loader/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import { type AnswerLimit, checkAnswerSize } from './answerSize.js';
import { encodeRows, type InputSpace, type Rows } from './inputs.js';
import { explainNeed, passOf } from './memoryNeed.js';
import { measureGradientAhead } from './modelFunction.js';
import type { ExplainRequest } from './request.js';

const encode = (loaded: LoadedModel, request: ExplainRequest, limits: RunLimits, natural: readonly number[] | undefined) =>
  encodeRows(loaded.manifest, request.instances, 'instances', limits.budget, undefined, natural && explainNeed(loaded, request, limits, natural));

/**
 * Encoded, or a 413 for too many. A count refused while the gradient pass was only estimated from
 * the model's layers is counted again once one row of it is measured (modelFunction.ts's
 * measureGradientAhead): the estimate is no upper bound, and the number of instances such a 413
 * named was then refused. Measured only then, so that a request refused for its answer's size has
 * run no pass.
 */
async function encodeMeasured(loaded: LoadedModel, request: ExplainRequest, limits: RunLimits, natural: readonly number[] | undefined) {
  try {
    return await encode(loaded, request, limits, natural);
  } catch (error) {
    const recount = natural && error instanceof TooManyInstancesError && passOf(request.method) === 'gradient';
    if (!recount || !(await measureGradientAhead(loaded, limits, natural))) throw error;
    return encode(loaded, request, limits, natural);
  }
}

/**
 * The memory's 413, with the answer's own when the instances it says fit would make an answer
 * too large to return (answerSize.ts): those instances are encoded (they fit) and their answer
 * bounded. Without it, a 413 named 11 instances of a 224 x 224 image model, and 11 were refused
 * for their answer ("at most 5 of these 11 instances fit").
 */
async function withAnswerLimit(
  refused: TooManyInstancesError,
  loaded: LoadedModel,
  request: ExplainRequest,
  limits: RunLimits,
  answerLimit: AnswerLimit | undefined,
  natural: readonly number[] | undefined,
): Promise<PayloadTooLargeError> {
  if (refused.fit === 0 || answerLimit === undefined) return refused;
  const first = { ...request, instances: request.instances.slice(0, refused.fit) };
  let encoded: { rows: Rows; space: InputSpace };
  try {
    encoded = await encode(loaded, first, limits, natural);
  } catch (error) {
    if (error instanceof TooManyInstancesError) return refused;
    throw error;
  }
  try {
    checkAnswerSize(loaded.manifest, encoded.space, encoded.rows, first, answerLimit, limits.budget);
    return refused;
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError)) throw error;
    return new PayloadTooLargeError(`${refused.message}; and of those, ${error.message}`);
  }
}

/**
 * The instances' rows and their input space; `natural`: the row one natural instance makes
 * (inputs/encode.ts's instanceRowShape; undefined for a model of raw tensors only); `answerLimit`:
 * the bytes the answer may take (none: no limit).
 */
export async function encodeInstancesCounted(
  loaded: LoadedModel,
  request: ExplainRequest,
  limits: RunLimits,
  natural: readonly number[] | undefined,
  answerLimit: AnswerLimit | undefined,
): Promise<{ rows: Rows; space: InputSpace }> {
  try {
    return await encodeMeasured(loaded, request, limits, natural);
  } catch (error) {
    if (error instanceof TooManyInstancesError) throw await withAnswerLimit(error, loaded, request, limits, answerLimit, natural);
    throw error;
  }
}
