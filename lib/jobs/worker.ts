/**
 * Runs a job by id: queued/running -> running -> succeeded | failed. A redelivered job that already
 * finished is left alone (Lambda async invokes are at-least-once); an executor's error becomes the
 * job's error message and the worker does not throw, so Lambda does not retry a deterministic failure.
 * Failing to record a job's state (after updateJobIf's retries) throws instead: the event is
 * redelivered and the job run again (a fine-tune then finds the version it wrote), rather than a
 * job recorded failed for work that succeeded. A progress record is best-effort.
 *
 * Moving a job to running records its deadline (deadline.ts): the attempt's time (`remainingMs`,
 * at most Lambda's 15 minutes) and a margin for its outcome to arrive (a redelivery's, for the
 * worker function). Readers count a queued job past its start deadline, or a running job past
 * its deadline, failed; an event delivered after it records that failure instead of running the
 * job, and an attempt that finishes after it records that failure instead of its outcome, so what
 * a client saw stays true. Each write keeps RECORD_MARGIN_MS before the deadline, the time it may
 * take to land. The deadline is the one condition: a job the store holds failed was recorded so
 * past its deadline (or by an earlier outcome), which this attempt's check also finds.
 *
 * Every write replaces only the version of the record it was decided on (updateJobIf, If-Match).
 * Lambda may deliver one event twice, even at once: of two deliveries that read the job queued (or
 * running, a retry's re-start), one starts it, with an owner id of its own, and the other, refused,
 * reads it again, finds it running and does nothing, instead of both running it (an evaluation
 * saved twice, a fine-tune writing two versions). A retry after a failed invocation still takes
 * a running job over, as before: nothing tells it from a live attempt but the deadline. An attempt
 * writes progress and its outcome only while the record names it the owner, so one taken over
 * never overwrites what its successor recorded.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, ServiceError } from '../errors.js';
import type { ModelLoader } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import { withRecovery } from '../runtime/recovery.js';
import type { ObjectStore } from '../store/index.js';
import { deadlineOf, isOverdue, overdueError, RECORD_MARGIN_MS, REDELIVERY_MARGIN_MS } from './deadline.js';
import { updateJobIf, validateJobId, type Job, type JobKind, type JobPatch } from './records.js';

/** What a job runs with: the model store (job records live there too) and the loader over it. */
export interface JobEnvironment {
  store: ObjectStore;
  loader: ModelLoader;
  limits: RunLimits;
}

export interface JobContext extends JobEnvironment {
  job: Job;
  /** Records progress on the job (e.g. rows so far, epoch losses). */
  progress(progress: unknown): Promise<void>;
  /** Milliseconds this invocation has left (Infinity outside Lambda). */
  remainingMs(): number;
}

type JobExecutor = (context: JobContext) => Promise<unknown>;
export type JobExecutors = Partial<Record<JobKind, JobExecutor>>;

/** `warning`: what the error cost when the job goes on (e.g. a progress record not written). */
export type JobErrorReport = (error: unknown, warning?: string) => void;

export async function runJob(
  environment: JobEnvironment,
  jobId: string,
  executors: JobExecutors,
  onError?: JobErrorReport,
  remainingMs: () => number = () => Number.POSITIVE_INFINITY,
  marginMs = REDELIVERY_MARGIN_MS,
): Promise<Job> {
  const { store } = environment;
  const owner = randomUUID();
  const start = await updateJobIf(store, validateJobId(jobId), (current, raced) => {
    if (current.status === 'succeeded' || current.status === 'failed') return undefined;
    if (tooLate(current)) return { status: 'failed', error: overdueError(current), deadline: undefined };
    if (!executors[current.kind]) return { status: 'failed', error: `this worker cannot run ${current.kind} jobs`, deadline: undefined };
    // Another delivery of this event started it between this one's read and its write: it owns the job.
    if (raced && current.status === 'running') return undefined;
    return { status: 'running', attempts: current.attempts + 1, deadline: deadlineOf(remainingMs(), marginMs), owner };
  });
  let job = start.job;
  if (job.status !== 'running' || job.owner !== owner) {
    if (job.status === 'running')
      onError?.(new ConflictError(`job ${job.id} was started by another delivery of its event (attempt ${job.attempts})`), 'this delivery does nothing');
    return job;
  }
  const executor = executors[job.kind] as JobExecutor;
  /** Writes `patch` while this attempt still owns the job (else leaves the record as another attempt left it). */
  const record = (patch: (current: Job) => JobPatch, options?: { attempts?: number }) =>
    updateJobIf(store, jobId, (current) => (current.status === 'running' && current.owner === owner ? patch(current) : undefined), options);
  const context: JobContext = {
    ...environment,
    job,
    progress: async (progress) => {
      try {
        // One try (the store client retries within it): training does not wait on a progress record.
        const written = await record(() => ({ progress }), { attempts: 1 });
        if (written.written) job = written.job;
      } catch (error) {
        onError?.(error, 'job progress not recorded; the job goes on');
      }
    },
    remainingMs,
  };
  let outcome: JobPatch;
  try {
    // A backend fault resets TF.js (the job fails; the worker's next job finds a working backend).
    const result = await withRecovery(() => executor(context));
    outcome = { status: 'succeeded', result, deadline: undefined };
  } catch (error) {
    onError?.(error);
    // A client error (bad data) is the user's to read; anything else stays in the log.
    const message = error instanceof ServiceError && error.statusCode < 500 ? error.message : 'internal error (see the worker log)';
    outcome = { status: 'failed', error: message, deadline: undefined };
  }
  // Finished past its deadline (an in-process evaluation does not watch its time): readers have
  // counted it failed, so it stays failed, as they saw it.
  const ended = await record((current) => (tooLate(current) ? { status: 'failed', error: overdueError(current), deadline: undefined } : outcome));
  if (!ended.written) {
    const by = `job ${jobId} was taken over by another attempt (attempt ${ended.job.attempts}, ${ended.job.status})`;
    onError?.(new ConflictError(by), "this attempt's outcome is not recorded");
  }
  return ended.job;
}

/** The job's deadline is past, or will be before a write made now can land. */
function tooLate(job: Job): boolean {
  return isOverdue(job, Date.now() + RECORD_MARGIN_MS);
}
