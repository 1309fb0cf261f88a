/**
 * Runs a job by id: queued/running -> running -> succeeded | failed. A redelivered job that already
 * finished is left alone (Lambda async invokes are at-least-once); an executor's error becomes the
 * job's error message and the worker does not throw, so Lambda does not retry a deterministic failure.
 * Failing to record a job's state (after updateJob's retries) throws instead: the event is
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
 */
import { ServiceError } from '../errors.js';
import type { ModelLoader } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import { withRecovery } from '../runtime/recovery.js';
import type { ObjectStore } from '../store/index.js';
import { deadlineOf, isOverdue, overdueError, RECORD_MARGIN_MS, REDELIVERY_MARGIN_MS } from './deadline.js';
import { readJobRecord, updateJob, type Job, type JobKind } from './records.js';

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
  let job = await readJobRecord(store, jobId);
  if (job.status === 'succeeded' || job.status === 'failed') return job;
  if (tooLate(job)) return updateJob(store, job, { status: 'failed', error: overdueError(job), deadline: undefined });
  const executor = executors[job.kind];
  if (!executor) return updateJob(store, job, { status: 'failed', error: `this worker cannot run ${job.kind} jobs`, deadline: undefined });
  job = await updateJob(store, job, { status: 'running', attempts: job.attempts + 1, deadline: deadlineOf(remainingMs(), marginMs) });
  const context: JobContext = {
    ...environment,
    job,
    progress: async (progress) => {
      try {
        // One try (the store client retries within it): training does not wait on a progress record.
        job = await updateJob(store, job, { progress }, { attempts: 1 });
      } catch (error) {
        onError?.(error, 'job progress not recorded; the job goes on');
      }
    },
    remainingMs,
  };
  let result: unknown;
  try {
    // A backend fault resets TF.js (the job fails; the worker's next job finds a working backend).
    result = await withRecovery(() => executor(context));
  } catch (error) {
    onError?.(error);
    if (tooLate(job)) return updateJob(store, job, { status: 'failed', error: overdueError(job), deadline: undefined });
    // A client error (bad data) is the user's to read; anything else stays in the log.
    const message = error instanceof ServiceError && error.statusCode < 500 ? error.message : 'internal error (see the worker log)';
    return updateJob(store, job, { status: 'failed', error: message, deadline: undefined });
  }
  // Finished past its deadline (an in-process evaluation does not watch its time): readers have
  // counted it failed, so it stays failed, as they saw it.
  if (tooLate(job)) return updateJob(store, job, { status: 'failed', error: overdueError(job), deadline: undefined });
  return updateJob(store, job, { status: 'succeeded', result, deadline: undefined });
}

/** The job's deadline is past, or will be before a write made now can land. */
function tooLate(job: Job): boolean {
  return isOverdue(job, Date.now() + RECORD_MARGIN_MS);
}
