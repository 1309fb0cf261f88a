/**
 * What can be checked before a fine-tune job is accepted, so a bad request is a 400 or 413 now
 * rather than a failed job later: the base is a layers model with one input, layer names exist,
 * the early-stopping monitor and the promotion metric are ones this task reports, inline labels and instances fit the model
 * and its outputs for the instances are finite (cheap checks first), and the training fits the worker's memory (a training
 * step measured here; the worker measures again, on the rows it read). A data set is read by the worker only (its key is
 * checked at submit: evaluate/dataset.ts checkDatasetFound): its rows'
 * problems fail the job as 4xx.
 */
import { BadRequestError } from '../../errors.js';
import type { LoadedModel } from '../../loader/index.js';
import type { MemoryBudget, RunLimits } from '../../runtime/memory.js';
import { isLayersModel } from '../../runtime/tfModel.js';
import { rowsUpTo } from '../evaluate/dataset.js';
import { truthOf } from '../evaluate/examples.js';
import type { ObjectStore } from '../../store/index.js';
import { answerHead } from './answerHead.js';
import { checkTrainingFits } from './budget.js';
import { checkOneInput, heldOutCount, splitRows, trainingRows } from './data.js';
import { PROMOTION_METRICS, type FineTuneRequest } from './request.js';
import { chosenLayers } from './train.js';

/** The shape of one input row of the model (undefined when a dimension is free, or the rank unknown). */
function rowShapeOf(loaded: LoadedModel): number[] | undefined {
  const dims = loaded.manifest.signature.inputs[0]?.shape?.slice(1);
  return dims === undefined || dims.some((d) => d < 0) ? undefined : dims;
}

/** Inline rows of training and validation data (undefined when either is a data set, not read here). */
function inlineRows(request: FineTuneRequest): number | undefined {
  if (request.instances === undefined) return undefined;
  if ('split' in request.validation) return request.instances.length;
  return request.validation.instances === undefined ? undefined : request.instances.length + request.validation.instances.length;
}

/** The larger of the inline training and validation sets (budget.ts rowsAtMost); undefined when either is a data set. */
function inlineRowsAtMost(request: FineTuneRequest): number | undefined {
  if (request.instances === undefined) return undefined;
  const n = request.instances.length;
  if ('split' in request.validation) {
    const heldOut = heldOutCount(n, request.validation.split);
    return Math.max(n - heldOut, heldOut);
  }
  return request.validation.instances === undefined ? undefined : Math.max(n, request.validation.instances.length);
}

/**
 * A counter for a training data set (budget.ts countRowsAtMost), when the validation rows are its
 * split or inline: a validation data set is not counted, and nothing caps the calls then.
 */
function dataSetCounter(request: FineTuneRequest, store: ObjectStore | undefined): ((most: number) => Promise<number>) | undefined {
  const { dataset, format, validation } = request;
  if (dataset === undefined || store === undefined || (!('split' in validation) && validation.instances === undefined)) return undefined;
  const inlineValidation = 'split' in validation ? 0 : (validation.instances?.length ?? 0);
  return async (most) => Math.max(await rowsUpTo(store, { dataset, format }, most), inlineValidation);
}

/**
 * Inline instances encoded and checked against the model's input as the worker will (shape, dtype, features), and split as it will;
 * run through the model here, as predict would run them (`limits`: this function's), so that rows it overflows on are a 422 now.
 */
async function checkInlineRows(loaded: LoadedModel, request: FineTuneRequest, budget: MemoryBudget, limits: RunLimits): Promise<void> {
  const base = { loaded, limits };
  if (request.instances !== undefined) {
    await trainingRows(loaded.manifest, request.instances, 'instances', budget, { base });
    if ('split' in request.validation) splitRows(request.instances.length, request.validation.split, request.config.seed);
  }
  if (!('split' in request.validation) && request.validation.instances !== undefined) {
    await trainingRows(loaded.manifest, request.validation.instances, 'validation.instances', budget, { base });
  }
}

/** Training reports `acc` and `val_acc` for classifiers only (regression reports mse). */
function checkMonitor(loaded: LoadedModel, request: FineTuneRequest): void {
  const monitor = request.config.earlyStopping?.monitor;
  if (loaded.manifest.task === 'regression' && monitor?.includes('acc')) {
    throw new BadRequestError(`config.earlyStopping.monitor ${monitor}: ${loaded.name} is a regression model and reports no accuracy; monitor val_loss or loss`);
  }
}

/** A metric the task does not report would compare undefined with undefined after training, and promote on nothing. */
function checkPromotionMetric(loaded: LoadedModel, request: FineTuneRequest): void {
  const metric = request.promote?.ifBetter;
  const { task } = loaded.manifest;
  const offered: readonly string[] = PROMOTION_METRICS[task === 'regression' ? 'regression' : 'classes'];
  if (metric && !offered.includes(metric)) {
    throw new BadRequestError(`promote.ifBetter ${metric}: ${loaded.name} is a ${task} model and reports no ${metric}; compare on ${offered.join(', ')}`);
  }
}

/**
 * `workerBudget`: the memory budget of the function that will train (the job worker); `limits`: this
 * function's, for running the model on inline rows; `store`: where a data set is, counted as far as
 * the batch size when that does not fit (fewer rows train in smaller steps).
 */
export async function precheckFineTune(loaded: LoadedModel, request: FineTuneRequest, workerBudget: MemoryBudget, limits: RunLimits, store?: ObjectStore): Promise<void> {
  if (!isLayersModel(loaded.model)) {
    throw new BadRequestError(`${loaded.name}:${loaded.version} is a graph model: graph models cannot be trained, only layers models`);
  }
  checkOneInput(loaded.manifest);
  checkMonitor(loaded, request);
  checkPromotionMetric(loaded, request);
  const head = answerHead(loaded.model);
  const trainable = chosenLayers(head, request.config.trainableLayers);
  const problems: string[] = [];
  const checkLabels = (labels: unknown[] | undefined, where: string) =>
    labels?.forEach((label, i) => {
      try {
        truthOf(loaded.manifest, label, `${where}[${i}]`);
      } catch (error) {
        problems.push((error as Error).message);
      }
    });
  checkLabels(request.labels, 'labels');
  if (!('split' in request.validation)) checkLabels(request.validation.labels, 'validation.labels');
  if (problems.length) throw new BadRequestError(problems.slice(0, 10).join('; '));
  await checkInlineRows(loaded, request, workerBudget, limits);
  const rowShape = rowShapeOf(loaded);
  if (rowShape !== undefined) {
    const plan = {
      model: head,
      name: `${loaded.name}:${loaded.version}`,
      task: loaded.manifest.task,
      config: request.config,
      trainable,
      rows: inlineRows(request),
      rowsAtMost: inlineRowsAtMost(request),
      countRowsAtMost: dataSetCounter(request, store),
      rowBytes: rowShape.reduce((a, b) => a * b, 1) * 4,
      budget: workerBudget,
    };
    // Measured on the serving instance, with the layers the request trains (nothing of it changes: stepCost.ts).
    await checkTrainingFits(plan, rowShape);
  }
}
