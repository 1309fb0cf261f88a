/**
 * The `fine-tune` job: train a copy of the base version on the job's data, check it, and write it
 * as a new version (never an overwrite), then optionally move an alias if it is better (promote.ts).
 * A job has one version, whichever of its attempts wrote it (jobVersion.ts: a create-only claim
 * decides): a retried job (same id) finds the version an earlier attempt wrote instead of writing a
 * second one, and of two attempts writing theirs at once one version is the job's and the other
 * attempt removes its own. An attempt whose job was taken over meanwhile (its signal aborted)
 * stops training and writes none.
 */
import { BadRequestError } from '../../errors.js';
import type { JobContext } from '../../jobs/worker.js';
import { readVersion } from '../../loader/readVersion.js';
import type { Manifest } from '../../registry/index.js';
import { backendName } from '../../runtime/backend.js';
import { modelFiles } from '../../runtime/modelFiles.js';
import type { MemoryBudget, RunLimits } from '../../runtime/memory.js';
import { disposeModel, isLayersModel } from '../../runtime/tfModel.js';
import type { ObjectStore } from '../../store/index.js';
import { answerHead } from './answerHead.js';
import { checkTrainingFits } from './budget.js';
import { versionOfJob, writeVersionOfJob } from './jobVersion.js';
import { type BaseRun, loadLabelledData, pick, splitRows, type LabelledData } from './data.js';
import { fineTuneRequest, type FineTuneRequest } from './request.js';
import { applyTrainableLayers, train } from './train.js';
import { applyPromotion, decidePromotion, type Promotion } from './promote.js';
import { validationMetrics } from './validate.js';

/**
 * Time kept for saving the new version before the Lambda's own timeout, beyond the validation
 * passes that come after training (measured: saveMarginMs).
 */
const SAVE_MARGIN_MS = 60_000;

/**
 * What training leaves for the work after it: the fixed margin and the validation passes still to
 * come, each as long as the base version's took (V): fit()'s own at the end of an epoch, inside its
 * last batch (so after the last check of the time), the new version's, and, when promotion waits on
 * a better metric, the incumbent's (its load and pass); half a pass more of slack. A large
 * validation set through a MobileNet-sized model takes minutes, which a fixed minute did not cover.
 */
function saveMarginMs(validationMs: number, request: FineTuneRequest): number {
  return SAVE_MARGIN_MS + validationMs * (request.promote?.ifBetter ? 3.5 : 2.5);
}

/**
 * A worker with less time left than saving needs would train one batch and save it as a version
 * (a plain promote then serving it): the job fails instead, with the figures.
 */
function checkTimeToTrain(remainingMs: number, marginMs: number, validationMs: number, validationRows: number): void {
  if (remainingMs >= marginMs) return;
  const s = (ms: number) => `${Math.round(ms / 1000)} s`;
  throw new BadRequestError(
    `the worker has ${s(remainingMs)} left, less than saving a version takes (${s(marginMs)}: a minute and the validation passes still to come, ${s(validationMs)} each over ${validationRows} rows): hold out fewer rows (validation.split, or a smaller validation.dataset)`,
  );
}

export interface FineTuneResult {
  version: number;
  parent: number;
  metrics: Record<string, number>;
  baseMetrics: Record<string, number>;
  history: unknown[];
  /** Why training ended before config.epochs: the early-stopping rule, or the worker's time (absent: every epoch ran). */
  stoppedEarly?: 'earlyStopping' | 'timeBudget';
  promoted?: Promotion;
}

/**
 * `manifest`: the base's (or the version written from it: the same input transforms and labels).
 * `base`: the model about to be trained, which the rows are checked on (data.ts's trainingRows): a
 * data set is read here only, and inline rows cost one forward pass, a share of one epoch's.
 */
async function splitData(
  store: ObjectStore,
  manifest: Manifest,
  request: FineTuneRequest,
  budget: MemoryBudget,
  base?: BaseRun,
): Promise<{ trainData: LabelledData; validation: LabelledData }> {
  const data = await loadLabelledData(store, { manifest }, request, budget, '', base);
  if ('split' in request.validation) {
    const { train: trainRows, validation } = splitRows(data.truths.length, request.validation.split, request.config.seed);
    return { trainData: pick(data, trainRows), validation: pick(data, validation) };
  }
  // A validation data set holds its truth where the training one does unless it says otherwise: the same data, held apart.
  const { validation: own } = request;
  const validation = own.dataset !== undefined && own.labelColumn === undefined ? { ...own, labelColumn: request.labelColumn } : own;
  return { trainData: data, validation: await loadLabelledData(store, { manifest }, validation, budget, 'validation.', base) };
}

/**
 * A redelivered job (the worker died after writing its version) answers with that version, and
 * still moves the alias if asked: the earlier attempt may have died before doing so.
 */
async function finishWritten(store: ObjectStore, written: Manifest, parent: number, request: FineTuneRequest, limits: RunLimits): Promise<FineTuneResult> {
  const training = (written.training ?? {}) as { history?: unknown[]; baseMetrics?: Record<string, number>; stoppedEarly?: FineTuneResult['stoppedEarly'] };
  const validation = async () => (await splitData(store, written, request, limits.budget)).validation;
  const decision = await decidePromotion(store, written, request, written.metrics, validation, limits, written.version);
  const promoted = await applyPromotion(store, written.name, written.version, decision);
  return {
    version: written.version,
    parent,
    metrics: written.metrics,
    baseMetrics: training.baseMetrics ?? {},
    history: training.history ?? [],
    ...(training.stoppedEarly ? { stoppedEarly: training.stoppedEarly } : {}),
    promoted,
  };
}

export async function fineTuneJob({ store, job, progress, remainingMs, limits, signal }: JobContext): Promise<FineTuneResult> {
  const request = fineTuneRequest.parse(job.request);
  const { name, version: parent } = job.model;
  const already = await versionOfJob(store, name, job.id, parent);
  if (already) return finishWritten(store, already, parent, request, limits);
  // A private copy: the serving cache's instance must not change under running requests.
  const base = await readVersion(store, name, parent);
  try {
    if (!isLayersModel(base.model)) throw new BadRequestError(`${name}:${parent} is a graph model: graph models cannot be trained, only layers models`);
    // Trained through its answer output's view (answerHead.ts), saved whole.
    const whole = base.model;
    const model = answerHead(whole);
    const { trainData, validation } = await splitData(store, base.manifest, request, limits.budget, { loaded: base, limits });
    const trainable = applyTrainableLayers(model, request.config.trainableLayers);
    await checkTrainingFits(
      {
        model,
        name: `${name}:${parent}`,
        task: base.manifest.task,
        config: request.config,
        trainable,
        rows: trainData.truths.length + validation.truths.length,
        rowsAtMost: Math.max(trainData.truths.length, validation.truths.length),
        rowBytes: trainData.x.length === 0 ? 0 : (trainData.x.length / trainData.truths.length) * 4,
        budget: limits.budget,
      },
      trainData.rowShape,
    );
    const validating = performance.now();
    const baseMetrics = await validationMetrics(model, base.manifest, validation, limits);
    const validationMs = performance.now() - validating;
    const margin = saveMarginMs(validationMs, request);
    checkTimeToTrain(remainingMs(), margin, validationMs, validation.truths.length);
    const result = await train(model, base.manifest, trainData, validation, request.config, {
      onEpoch: (epoch) => progress({ of: request.config.epochs, ...epoch }),
      outOfTime: () => remainingMs() < margin,
      signal,
    });
    const metrics = await validationMetrics(model, base.manifest, validation, limits);
    // Decided before the version is written: only the alias write can fail after it (promote.ts).
    const decision = await decidePromotion(store, base.manifest, request, metrics, async () => validation, limits);
    // The last moment to stop (the job taken over while the version was being checked): once
    // begun, the version is written whole, or removed when another attempt's is the job's.
    signal.throwIfAborted();
    // An attempt taken over without learning it (its store could not reach the job record, so
    // neither its heartbeat nor the news arrived) trains on: the job's version may be written by
    // now. Looked for before this one is staged; the claim decides between two written at once.
    const meanwhile = await versionOfJob(store, name, job.id, parent);
    if (meanwhile) return finishWritten(store, meanwhile, parent, request, limits);
    const files = await modelFiles(whole);
    const { name: _n, version: _v, files: _f, createdAt: _c, format: _fmt, ...inherited } = base.manifest;
    const { manifest, mine } = await writeVersionOfJob(store, name, job.id, files, {
      ...inherited,
      description: `${name}:${parent} fine-tuned by job ${job.id}`,
      // Trained (so run) here: a function on another backend tries it at load, as it would a push's.
      backend: backendName(),
      lineage: { parent, source: 'fine-tune', jobId: job.id, dataSha256: trainData.sha256 },
      metrics,
      training: {
        config: request.config,
        trainableLayers: trainable,
        trainRows: trainData.truths.length,
        validationRows: validation.truths.length,
        history: result.history,
        stoppedEarly: result.stoppedEarly,
        baseMetrics,
      },
    });
    // Another attempt's version is the job's (claimed while this one was staged): answered as a
    // retry finding it would.
    if (!mine) return finishWritten(store, manifest, parent, request, limits);
    const promoted = await applyPromotion(store, name, manifest.version, decision);
    return { version: manifest.version, parent, metrics, baseMetrics, history: result.history, ...(result.stoppedEarly ? { stoppedEarly: result.stoppedEarly } : {}), promoted };
  } finally {
    disposeModel(base.model);
  }
}
