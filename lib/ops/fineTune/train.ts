/**
 * Fits a copy of the base model. Guards: a non-finite loss or weight stops the run and fails it
 * (no version is written); the time budget stops training after the batch that reached it, so
 * there is time left to save what was trained; an aborted signal (its job taken over, or at its
 * deadline) stops it after the batch it came during.
 * Batch normalization layers that are not trained run in inference mode, as in Keras (batchNorm.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BadRequestError } from '../../errors.js';
import type { Manifest } from '../../registry/index.js';
import { useOurGradients } from '../../runtime/gradients/index.js';
import { offPath } from './answerHead.js';
import { frozenBatchNormInInference, refuseUntrainableBatchNorm } from './batchNorm.js';
import { epochOrder, pick, targetsOf, type LabelledData } from './data.js';
import { EarlyStopping } from './earlyStopping.js';
import { accuracyFor, lossFor, trainingTask } from './loss.js';
import type { FineTuneConfig } from './request.js';

interface EpochReport {
  epoch: number;
  loss: number;
  [metric: string]: number;
}

export interface TrainOptions {
  /** Called after each epoch (the job records it as progress). */
  onEpoch?: (report: EpochReport) => Promise<void> | void;
  /** true when the invocation must stop training now to keep time for saving. */
  outOfTime?: () => boolean;
  /** Aborted: training stops after the current batch and train() throws the signal's reason. */
  signal?: AbortSignal;
}

export interface TrainResult {
  history: EpochReport[];
  stoppedEarly: 'earlyStopping' | 'timeBudget' | undefined;
}

function namedLayers(model: tfl.LayersModel, choice: FineTuneConfig['trainableLayers']): string[] {
  const withWeights = model.layers.filter((l) => l.weights.length > 0);
  if (choice === 'all') return withWeights.map((l) => l.name);
  if (Array.isArray(choice)) {
    const unknown = choice.filter((name) => !model.layers.some((l) => l.name === name));
    // Of a model with several outputs, a layer that only feeds another output is not trained by this one's labels.
    const elsewhere = offPath(model);
    const apart = unknown.filter((name) => elsewhere?.layers.includes(name));
    if (elsewhere && apart.length) {
      throw new BadRequestError(
        `trainableLayers ${apart.join(', ')}: not on the way to output ${elsewhere.output}, the one fine-tuning trains (its answer output); the layers that are: ${model.layers.map((l) => l.name).join(', ')}`,
      );
    }
    if (unknown.length) throw new BadRequestError(`unknown layer(s) ${unknown.join(', ')} in trainableLayers; the model has ${model.layers.map((l) => l.name).join(', ')}`);
    // Layers without weights only (an input, a dropout): fit() would throw in its first step, mid-job.
    if (!choice.some((name) => withWeights.some((l) => l.name === name))) {
      throw new BadRequestError(
        `trainableLayers ${choice.join(', ')} hold no weights: nothing would be trained; the layers with weights are ${withWeights.map((l) => l.name).join(', ')}`,
      );
    }
    return choice;
  }
  return withWeights.slice(-choice.last).map((l) => l.name);
}

/** The layers a fine-tune trains; unknown names, or batch normalization layers TF.js cannot train, are a 400 naming them. */
export function chosenLayers(model: tfl.LayersModel, choice: FineTuneConfig['trainableLayers']): string[] {
  const chosen = namedLayers(model, choice);
  refuseUntrainableBatchNorm(model, chosen);
  return chosen;
}

/** Freezes every layer but the chosen ones. */
export function applyTrainableLayers(model: tfl.LayersModel, choice: FineTuneConfig['trainableLayers']): string[] {
  const chosen = chosenLayers(model, choice);
  for (const layer of model.layers) layer.trainable = chosen.includes(layer.name);
  return chosen;
}

/**
 * Ends fit() after the batch during which `signal` aborted, or after the batch that used up the
 * worker's time (`outOfTime`), not at the end of the epoch: one epoch of a large data set can take
 * minutes, and an epoch begun with time left could run past the Lambda's timeout, which ends the
 * attempt with nothing saved (its redelivery trains again and is stopped the same way). Set per
 * batch, not when the signal aborts: fit() clears the model's stopTraining as it starts.
 */
class StopBetweenBatches extends tfl.Callback {
  /** Batches fit() ran in this epoch. */
  batches = 0;
  /** The worker's time ran out during this epoch. */
  outOfTime = false;

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly timeIsUp: (() => boolean) | undefined,
  ) {
    super();
  }

  override async onBatchEnd(): Promise<void> {
    this.batches += 1;
    if (!this.signal?.aborted && !this.timeIsUp?.()) return;
    if (!this.signal?.aborted) this.outOfTime = true;
    if (this.model) this.model.stopTraining = true;
  }
}

/**
 * fit()'s callbacks. With none given, TF.js adds one that yields to the event loop every 125 ms (so
 * the job's heartbeat is renewed during a long epoch); given callbacks, it adds none, so that one
 * is given with ours.
 */
function callbacksFor(stop: StopBetweenBatches) {
  return [stop, new tfl.CustomCallback({})];
}

function optimizerOf(config: FineTuneConfig): tf.Optimizer {
  if (config.optimizer === 'sgd') return tf.train.sgd(config.learningRate);
  if (config.optimizer === 'rmsprop') return tf.train.rmsprop(config.learningRate);
  return tf.train.adam(config.learningRate);
}

function weightsFinite(model: tfl.LayersModel): boolean {
  return model.getWeights().every((w) => tf.tidy(() => tf.all(tf.isFinite(w)).dataSync()[0] === 1));
}

export async function train(
  model: tfl.LayersModel,
  manifest: Manifest,
  trainData: LabelledData,
  validation: LabelledData,
  config: FineTuneConfig,
  options: TrainOptions = {},
): Promise<TrainResult> {
  useOurGradients();
  const trained = chosenLayers(model, config.trainableLayers);
  const optimizer = optimizerOf(config);
  // What the model trains as (a binary model of two units: two classes), and what its output holds.
  const head = { task: trainingTask(model, manifest.task), scores: manifest.scores };
  const { task } = head;
  model.compile({ optimizer, loss: lossFor(model, head), metrics: task === 'regression' ? ['mse'] : [accuracyFor(model, head)] });
  const xVal = tf.tensor(validation.x, [validation.truths.length, ...validation.rowShape]);
  const yVal = targetsOf(manifest, validation.truths, task);
  const history: EpochReport[] = [];
  let stoppedEarly: TrainResult['stoppedEarly'];
  const earlyStopping = config.earlyStopping && new EarlyStopping(config.earlyStopping);
  const restoreBatchNorm = frozenBatchNormInInference(model, trained);
  try {
    for (let epoch = 0; epoch < config.epochs; epoch += 1) {
      options.signal?.throwIfAborted();
      // A different, repeatable order every epoch (fit's own shuffle uses Math.random).
      const ordered = pick(trainData, epochOrder(trainData.truths.length, config.seed, epoch));
      const x = tf.tensor(ordered.x, [ordered.truths.length, ...ordered.rowShape]);
      const y = targetsOf(manifest, ordered.truths, task);
      let logs: tfl.History;
      const stop = new StopBetweenBatches(options.signal, options.outOfTime);
      try {
        logs = await model.fit(x, y, { epochs: 1, batchSize: config.batchSize, shuffle: false, verbose: 0, validationData: [xVal, yVal], callbacks: callbacksFor(stop) });
      } finally {
        tf.dispose([x, y]);
      }
      options.signal?.throwIfAborted(); // stopped mid-epoch: its logs are of part of it
      const report: EpochReport = { epoch: epoch + 1, loss: NaN };
      for (const [key, values] of Object.entries(logs.history)) report[key] = Number(values[values.length - 1]);
      // Cut short by the worker's time: the batches it ran (its loss is theirs; fit() validates
      // only after an epoch's last batch, so it has no val_ figures).
      const batches = Math.ceil(ordered.truths.length / config.batchSize);
      if (stop.outOfTime && stop.batches < batches) Object.assign(report, { batches: stop.batches, epochBatches: batches });
      if (!Number.isFinite(report.loss) || !Number.isFinite(report.val_loss ?? 0) || !weightsFinite(model)) {
        throw new BadRequestError(`training diverged at epoch ${epoch + 1} (loss ${report.loss}): no version was written; try a smaller learningRate`);
      }
      history.push(report);
      await options.onEpoch?.(report);
      if (earlyStopping?.shouldStop(report)) {
        stoppedEarly = 'earlyStopping';
        break;
      }
      if (stop.outOfTime) {
        stoppedEarly = 'timeBudget';
        break;
      }
    }
  } finally {
    restoreBatchNorm();
    tf.dispose([xVal, yVal]);
    optimizer.dispose();
  }
  return { history, stoppedEarly };
}
