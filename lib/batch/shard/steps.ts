/**
 * The three tasks of the batch state machine (serverless.yml, stepFunctions.stateMachines.batch):
 * plan, score one range (each item of the Distributed Map), join. Each reads and writes the batch
 * store of the bucket in its event, under the file's batch/output/ path, so a task retried or run
 * twice finds what the previous attempt left.
 */
import { BadRequestError, ConflictError, IntegrityError, NotFoundError, ServiceError } from '../../errors.js';
import { uploadStore, type Services } from '../../services.js';
import { outputsFor, parseInputKey } from '../paths.js';
import { readOptional } from '../run.js';
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

function files(services: Services, run: RunInput) {
  const store = uploadStore(services, run.bucket);
  const input = parseInputKey(run.key);
  return { io: { source: store, output: store }, input, outputs: outputsFor(input) };
}

export async function planStep(services: Services, run: RunInput): Promise<PlanOutput> {
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
    if (!source) throw new NotFoundError(`no file ${input.key} in ${io.source.uri}`);
    // The same version string the trigger recorded (lib/batch/handlerCore.ts): the ETag, or the size without one.
    const version = source.etag ?? String(source.size);
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

export async function rangeStep(services: Services, event: { range: ShardRange; run: RunInput }): Promise<{ index: number; rows: BatchManifest['rows'] }> {
  const { io, input, outputs } = files(services, event.run);
  const plan = await readOptional<ShardPlan>(io.output, outputs.plan);
  if (plan?.etag !== event.run.etag) throw new Error(`no plan for ${event.run.key} at ETag ${event.run.etag}`);
  try {
    const result = await scoreRange(io, services.loader, input, outputs, plan, event.range, services.limits);
    return { index: result.index, rows: result.rows };
  } catch (error) {
    // The Distributed Map's own error only says that a range failed: the file's fault is kept
    // where the failure step (failStep) finds it, to name it in the manifest.
    // A damaged model version is named too: a retry reads the same bytes.
    const message = error instanceof IntegrityError ? error.publicMessage : error instanceof ServiceError && error.statusCode < 500 ? error.message : undefined;
    if (message) {
      const failure: RangeFailure = { etag: plan.etag, index: event.range.index, error: message };
      await io.output.put(outputs.rangeFailure(event.range.index), JSON.stringify(failure), { contentType: 'application/json' });
    }
    throw error;
  }
}

interface RangeFailure {
  etag: string;
  index: number;
  error: string;
}

/** What a Catch gives the failure step: the error name and, for a Lambda task, its JSON cause. */
export interface StepFailure {
  Error?: string;
  Cause?: string;
}

/** A client error from a task's Catch (a Lambda task's cause holds the function's errorType and errorMessage). */
function clientErrorOf(failure: StepFailure | undefined): ServiceError | undefined {
  try {
    const cause = JSON.parse(failure?.Cause ?? '') as { errorType?: string; errorMessage?: string };
    if (cause.errorMessage && CLIENT_ERRORS.has(cause.errorType ?? '')) return new BadRequestError(cause.errorMessage);
  } catch {
    // Not a Lambda error's JSON (e.g. the Map's own): nothing to name.
  }
  return undefined;
}

/** Errors that are the file's or the request's fault (their names, as Lambda reports a thrown error's type). */
const CLIENT_ERRORS = new Set(['BadRequestError', 'NotFoundError', 'ForbiddenError', 'PayloadTooLargeError']);

/**
 * The state machine's Catch: the run ends with a failed manifest, as a run through one function
 * does, naming the file's fault if a range found one. The plan and the scored ranges stay, so a
 * redrive reruns only the failed ranges and its join writes a succeeded manifest over this one. A
 * file replaced since the run began is left alone: the new upload's execution owns its outputs.
 */
async function failStep(services: Services, event: RunInput & { failure?: StepFailure }): Promise<{ status: string; error?: string }> {
  const { io, input, outputs } = files(services, event);
  const source = await io.source.head(input.key);
  if (!source || (source.etag ?? String(source.size)) !== event.etag) return { status: 'superseded' };
  const plan = await readOptional<ShardPlan & { startedAt: string }>(io.output, outputs.plan);
  const current = plan?.etag === event.etag ? plan : undefined;
  let error: unknown = clientErrorOf(event.failure);
  for (const range of current?.ranges ?? []) {
    const failure = await readOptional<RangeFailure>(io.output, outputs.rangeFailure(range.index));
    if (failure?.etag === event.etag) {
      error = new BadRequestError(failure.error);
      break;
    }
  }
  const manifest = await failShardedRun(io, input, outputs, error, {
    startedAt: current?.startedAt ?? new Date().toISOString(),
    etag: event.etag,
    plan: current,
    keepRanges: true,
  });
  return { status: manifest.status, error: manifest.error };
}

async function joinStep(services: Services, run: RunInput): Promise<{ status: string; rows: BatchManifest['rows'] }> {
  const { io, input, outputs } = files(services, run);
  const plan = await readOptional<ShardPlan & { startedAt: string }>(io.output, outputs.plan);
  if (plan?.etag !== run.etag) throw new Error(`no plan for ${run.key} at ETag ${run.etag}`);
  const manifest = await joinRanges(io, input, outputs, plan);
  await io.output.delete(outputs.ranges);
  return { status: manifest.status, rows: manifest.rows };
}

/** The batchJoin function's task: the join, or from the Catch (with its failure) the failed manifest. */
export function joinTask(services: Services, event: RunInput & { failure?: StepFailure }): Promise<unknown> {
  return event.failure ? failStep(services, event) : joinStep(services, event);
}
