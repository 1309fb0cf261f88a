/**
 * The three tasks of the batch state machine (serverless.yml, stepFunctions.stateMachines.batch):
 * plan, score one range (each item of the Distributed Map), join. Each reads and writes the batch
 * store of the bucket in its event, under the file's batch/output/ path, so a task retried or run
 * twice finds what the previous attempt left.
 */
import { BadRequestError, ConflictError, DAMAGED_IN_STORE, IntegrityError, isStoreFailure, isStoreRefusal, NotFoundError, ServiceError, UnavailableError } from '../../errors.js';
import { uploadStore, type Services } from '../../services.js';
import { versionOf } from '../../store/index.js';
import { isBackendFault } from '../../runtime/recovery.js';
import { outputsFor, parseInputKey, shardOutputsFor } from '../paths.js';
import { readOptional, removeUnder, replaced, sourceVersion } from '../run.js';
import type { BatchManifest } from '../state.js';
import { failShardedRun } from './fail.js';
import { joinRanges } from './join.js';
import { planRanges, type ShardPlan, type ShardRange } from './plan.js';
import { scoreRange } from './range.js';

/** What the trigger starts an execution with. */
export interface RunInput {
  bucket: string;
  key: string;
  etag: string;
}

export interface PlanOutput extends RunInput {
  /** true when this ETag's outputs are already written: the state machine ends there. */
  done: boolean;
  bucketName: string;
  rangesKey: string;
  resultPrefix: string;
  maxConcurrency: number;
  ranges: number;
}

/** The run's store, its input and its outputs, with the parts folder of the version it was started for. */
function files(services: Services, run: RunInput) {
  const store = uploadStore(services, run.bucket);
  const input = parseInputKey(run.key);
  return { io: { source: store, output: store }, input, outputs: shardOutputsFor(outputsFor(input), run.etag) };
}

/**
 * A failure that may pass (the store throttling, failing or going silent past the S3 client's own
 * retries; a model that cannot be loaded now), by the name the state machine retries (its tasks'
 * Retry, serverless.yml): without it a blink in one range failed the whole execution, to be
 * redriven by hand. A store that refuses access stays failed until the operator acts: not retried.
 */
class TransientError extends Error {
  override name = 'TransientError';
}

function retryable<T>(step: Promise<T>): Promise<T> {
  return step.catch((error: unknown) => {
    // A backend fault has reset TF.js (withRecovery): the function's next try runs on a fresh one.
    const transient = error instanceof UnavailableError || (isStoreFailure(error) && !isStoreRefusal(error)) || isBackendFault(error);
    throw transient ? new TransientError(`may pass on a later try: ${(error as Error)?.message}`, { cause: error }) : error;
  });
}

export function planStep(services: Services, run: RunInput): Promise<PlanOutput> {
  return retryable(planRun(services, run));
}

async function planRun(services: Services, run: RunInput): Promise<PlanOutput> {
  const { io, input, outputs } = files(services, run);
  const { rangeBytes, maxConcurrency } = services.config.batchShard;
  const base = { ...run, bucketName: run.bucket, rangesKey: outputs.ranges, resultPrefix: `batch/runs/${run.etag.replace(/\W/g, '')}`, maxConcurrency };
  const previous = await readOptional<BatchManifest>(io.output, outputs.manifest);
  if (previous?.status === 'succeeded' && previous.source.etag === run.etag) return { ...base, done: true, ranges: 0 };
  const existing = await readOptional<ShardPlan>(io.output, outputs.plan);
  let plan = existing?.etag === run.etag ? existing : undefined;
  if (!plan) {
    // The version the execution was started for, or nothing: a newer upload has its own execution.
    const source = await io.source.head(input.key);
    if (!source) throw new NotFoundError(`no file ${input.key}`);
    // The same version string the trigger recorded (lib/batch/handlerCore.ts): the ETag, or the size without one.
    const version = versionOf(source);
    if (version !== run.etag) throw new ConflictError(`${input.key} has changed since this run was started (ETag ${version}, expected ${run.etag})`);
    const model = await services.loader.withModel(input.ref, (loaded) => ({ name: loaded.name, version: loaded.version }));
    plan = {
      ...(await planRanges(io.source, { key: input.key, etag: run.etag, size: source.size, format: input.format, model, targetBytes: rangeBytes })),
      startedAt: new Date().toISOString(),
    } as ShardPlan;
    await io.output.put(outputs.plan, JSON.stringify(plan), { contentType: 'application/json' });
    await io.output.put(outputs.ranges, JSON.stringify(plan.ranges), { contentType: 'application/json' });
  }
  return { ...base, done: false, ranges: plan.ranges.length };
}

export function rangeStep(services: Services, event: { range: ShardRange; run: RunInput }): Promise<{ index: number; rows: BatchManifest['rows'] }> {
  return retryable(scoreOneRange(services, event));
}

async function scoreOneRange(services: Services, event: { range: ShardRange; run: RunInput }): Promise<{ index: number; rows: BatchManifest['rows'] }> {
  const { io, input, outputs } = files(services, event.run);
  const plan = await readOptional<ShardPlan & { startedAt: string }>(io.output, outputs.plan);
  if (plan?.etag !== event.run.etag) throw new Error(`no plan for ${event.run.key} at ETag ${event.run.etag}`);
  try {
    const result = await scoreRange(io, services.loader, input, outputs, plan, event.range, services.batchLimits);
    return { index: result.index, rows: result.rows };
  } catch (error) {
    // A failure no retry can mend (the file's own fault, a damaged model version) ends the run as
    // one function ends it: the failed manifest, written here because the Distributed Map's error
    // does not carry the range's. The execution still fails, so a transient failure (no manifest)
    // can be redriven: redrive reruns only the failed ranges, and the join writes the manifest.
    const verdict = deterministic(error);
    if (verdict) {
      await failShardedRun(io, input, outputs, verdict, { startedAt: plan.startedAt, etag: plan.etag, plan, keepRanges: true }).catch(() => undefined);
    }
    throw error;
  }
}

/** The error a failed manifest names when retrying cannot help; undefined for a failure that may pass. */
function deterministic(error: unknown): ServiceError | undefined {
  if (error instanceof IntegrityError) return new BadRequestError(error.publicMessage);
  if (error instanceof ServiceError && error.statusCode < 500 && !(error instanceof ConflictError)) return error;
  return undefined;
}

/** What a Catch gives the failure step: the error name and, for a Lambda task, its JSON cause. */
export interface StepFailure {
  Error?: string;
  Cause?: string;
}

/**
 * The error a Catch caught, from the Lambda task's cause (its errorType and errorMessage). The
 * state machine catches only the errors retrying cannot mend (serverless.yml), by these names.
 */
function caughtError(failure: StepFailure | undefined): ServiceError | undefined {
  try {
    const cause = JSON.parse(failure?.Cause ?? '') as { errorType?: string; errorMessage?: string };
    if (cause.errorType === 'IntegrityError') return new BadRequestError(DAMAGED_IN_STORE);
    if (cause.errorMessage && CLIENT_ERRORS.has(cause.errorType ?? '')) return new BadRequestError(cause.errorMessage);
  } catch {
    // Not a Lambda error's JSON: nothing to name.
  }
  return undefined;
}

/** Errors that are the file's or the request's fault (their names, as Lambda reports a thrown error's type). */
const CLIENT_ERRORS = new Set(['BadRequestError', 'NotFoundError', 'ForbiddenError', 'PayloadTooLargeError']);

/**
 * The state machine's Catch on Plan (a failure no retry can mend: an unknown model, a damaged
 * version): the run ends with a failed manifest, as a run through one function does. A file
 * replaced since the run began is left alone: the new upload's execution owns its outputs.
 */
async function failStep(services: Services, event: RunInput & { failure?: StepFailure }): Promise<{ status: string; error?: string }> {
  const { io, input, outputs } = files(services, event);
  if ((await sourceVersion(io.source, input.key)) !== event.etag) return { status: 'superseded' };
  const plan = await readOptional<ShardPlan & { startedAt: string }>(io.output, outputs.plan);
  const current = plan?.etag === event.etag ? plan : undefined;
  const manifest = await failShardedRun(io, input, outputs, caughtError(event.failure), {
    startedAt: current?.startedAt ?? new Date().toISOString(),
    etag: event.etag,
    plan: current,
    keepRanges: true,
  });
  return { status: manifest.status, error: manifest.error };
}

async function joinStep(services: Services, run: RunInput): Promise<{ status: string; rows?: BatchManifest['rows'] }> {
  const { io, input, outputs } = files(services, run);
  // Replaced after every range read its bytes: the new upload's execution owns the outputs (its
  // manifest may be written already, and its join removed this run's plan), so this one's parts go
  // and nothing is published.
  if (await replaced(io.source, input.key, run.etag)) {
    await removeUnder(io.output, outputs.partsPrefix);
    return { status: 'superseded' };
  }
  const plan = await readOptional<ShardPlan & { startedAt: string }>(io.output, outputs.plan);
  if (plan?.etag !== run.etag) throw new Error(`no plan for ${run.key} at ETag ${run.etag}`);
  const manifest = await joinRanges(io, input, outputs, plan);
  await io.output.delete(outputs.ranges);
  return { status: manifest.status, rows: manifest.rows };
}

/** The batchJoin function's task: the join, or from the Catch (with its failure) the failed manifest. */
export function joinTask(services: Services, event: RunInput & { failure?: StepFailure }): Promise<unknown> {
  return retryable(event.failure ? failStep(services, event) : joinStep(services, event));
}
