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
 * Lambda may deliver one event twice, even at once: of two deliveries that read the job queued, one
 * starts it, with an owner id of its own, and the other, refused, reads it again, finds it running
 * and does nothing, instead of both running it (an evaluation saved twice, a fine-tune writing two
 * versions). A duplicate that arrives later, while the job runs, is told from Lambda's retry after
 * a failed invocation by the owner's heartbeat (heartbeat.ts): the owner renews it every interval
 * while it runs the job, so a delivery that finds it fresh leaves the job to its owner and writes
 * nothing, and one that finds it stale (the owner's process died, or was stopped at its timeout)
 * takes the job over. An attempt writes its heartbeat, progress and outcome one at a time, each
 * only while the record names it the owner: one taken over (a renewal or a progress record that
 * finds another owner: it was alive, but could not renew its heartbeat for three intervals) stops
 * renewing and records nothing more, so it never overwrites what its successor recorded.
 *
 * Nor does its work go on: the successor runs the job from the start, and two attempts that both
 * finished would write two versions for one fine-tune, or save one evaluation twice. The executor's
 * signal (JobContext) is aborted when the attempt learns it was taken over, and when it reaches
 * its deadline (less RECORD_MARGIN_MS), past which its outcome could only be recorded failed: the
 * executor stops at its next step (a training batch, an evaluation chunk), writes nothing of its
 * work, and frees what it holds. An attempt that never learns it (cut off from the record, so that
 * neither its renewals nor the news get through) runs to the end; its output is still not a second
 * one: each executor writes its output create-only at a key of the job's (a fine-tune's version
 * claimed at {model}/fine-tunes/{id}.json, ops/fineTune/jobVersion.ts; a saved evaluation under the
 * job's id), so the attempt that comes second answers with the first's.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, recordedMessage } from '../errors.js';
import type { ModelLoader } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import { withRecovery } from '../runtime/recovery.js';
import type { ObjectStore } from '../store/index.js';
import { deadlineOf, isOverdue, overdueError, RECORD_MARGIN_MS, REDELIVERY_MARGIN_MS } from './deadline.js';
import { HEARTBEAT_MS, isAlive, startHeartbeat } from './heartbeat.js';
import { updateJobIf, validateJobId, type Job, type JobKind, type JobPatch } from './records.js';

/** What a job runs with: the model store (job records live there too) and the loader over it. */
export interface JobEnvironment {
  store: ObjectStore;
  loader: ModelLoader;
  limits: RunLimits;
  /** How often the attempt running a job renews its heartbeat (JOB_HEARTBEAT_MS; unset: HEARTBEAT_MS). */
  heartbeatMs?: number;
}

export interface JobContext extends JobEnvironment {
  job: Job;
  /** Records progress on the job (e.g. rows so far, epoch losses). */
  progress(progress: unknown): Promise<void>;
  /** Milliseconds this invocation has left (Infinity outside Lambda). */
  remainingMs(): number;
  /**
   * Aborted when this attempt's work can no longer count: another attempt took the job over, or
   * the deadline has come. The executor then stops at its next step and writes nothing more (no
   * version, no saved evaluation), throwing the signal's reason.
   */
  signal: AbortSignal;
}

type JobExecutor = (context: JobContext) => Promise<unknown>;
export type JobExecutors = Partial<Record<JobKind, JobExecutor>>;

/** `warning`: what the error cost when the job goes on (e.g. a progress record not written). */
export type JobErrorReport = (error: unknown, warning?: string) => void;

/** What an ended job no longer has: a deadline, and a heartbeat to judge its owner by. */
const ENDED = { deadline: undefined, heartbeat: undefined, heartbeatMs: undefined } satisfies JobPatch;

export async function runJob(
  environment: JobEnvironment,
  jobId: string,
  executors: JobExecutors,
  onError?: JobErrorReport,
  remainingMs: () => number = () => Number.POSITIVE_INFINITY,
  marginMs = REDELIVERY_MARGIN_MS,
): Promise<Job> {
  const { store, heartbeatMs = HEARTBEAT_MS } = environment;
  const owner = randomUUID();
  const start = await updateJobIf(store, validateJobId(jobId), (current) => {
    if (current.status === 'succeeded' || current.status === 'failed') return undefined;
    if (tooLate(current)) return { status: 'failed', error: overdueError(current), ...ENDED };
    if (!executors[current.kind]) return { status: 'failed', error: `this worker cannot run ${current.kind} jobs`, ...ENDED };
    // Another attempt runs it and renews its heartbeat (or has just started it: a start writes
    // one; a delivery refused because another started the job between its read and its write finds
    // it so on the record read again). A running job whose heartbeat is stale is taken over.
    if (isAlive(current)) return undefined;
    const now = new Date().toISOString();
    return { status: 'running', attempts: current.attempts + 1, deadline: deadlineOf(remainingMs(), marginMs), owner, heartbeat: now, heartbeatMs };
  });
  let job = start.job;
  if (job.status !== 'running' || job.owner !== owner) {
    if (job.status === 'running')
      onError?.(new ConflictError(`job ${job.id} is run by another attempt (attempt ${job.attempts}, its heartbeat at ${job.heartbeat})`), 'this delivery does nothing');
    return job;
  }
  const executor = executors[job.kind] as JobExecutor;
  let writes: Promise<unknown> = Promise.resolve();
  /**
   * Writes `patch` while this attempt still owns the job (else leaves the record as another attempt
   * left it). One write at a time: a renewal never races this attempt's own progress or outcome.
   */
  const record = (patch: (current: Job) => JobPatch, options?: { attempts?: number }) => {
    const write = writes.then(() => updateJobIf(store, jobId, (current) => (current.status === 'running' && current.owner === owner ? patch(current) : undefined), options));
    writes = write.catch(() => undefined);
    return write;
  };
  const stop = new AbortController();
  let takenOver = false;
  /** The record, as found by a write this attempt could not make, names another owner (or an end). */
  const lost = (found: Job) => {
    if (takenOver) return;
    takenOver = true;
    const by = new ConflictError(takenOverBy(jobId, found));
    onError?.(by, 'this attempt stops recording its heartbeat and progress, and stops its work at its next step');
    stop.abort(by);
  };
  // From here on its outcome is recorded failed whatever the work does (tooLate): what the work
  // would still write (a version, an evaluation) would belong to no job that succeeded.
  const deadline = job.deadline as string;
  const overdue = setTimeout(
    () => {
      const reached = new Error(`job ${jobId} reached its deadline (${deadline}, less ${RECORD_MARGIN_MS / 1000} s to record its outcome)`);
      onError?.(reached, 'this attempt stops its work at its next step: its outcome can only be recorded failed');
      stop.abort(reached);
    },
    Math.max(0, Date.parse(deadline) - RECORD_MARGIN_MS - Date.now()),
  );
  overdue.unref();
  const heartbeat = startHeartbeat(
    async () => {
      const renewed = await record(() => ({ heartbeat: new Date().toISOString() }));
      if (renewed.written) return true;
      lost(renewed.job);
      return false;
    },
    heartbeatMs,
    (error) => onError?.(error, 'job heartbeat not renewed; the job goes on'),
  );
  const context: JobContext = {
    ...environment,
    job,
    progress: async (progress) => {
      if (takenOver) return;
      try {
        // One try (the store client retries within it): training does not wait on a progress record.
        const written = await record(() => ({ progress }), { attempts: 1 });
        if (written.written) job = written.job;
        else lost(written.job);
      } catch (error) {
        onError?.(error, 'job progress not recorded; the job goes on');
      }
    },
    remainingMs,
    signal: stop.signal,
  };
  let outcome: JobPatch;
  try {
    // A backend fault resets TF.js (the job fails; the worker's next job finds a working backend).
    const result = await withRecovery(() => executor(context));
    outcome = { status: 'succeeded', result, ...ENDED };
  } catch (error) {
    if (error === stop.signal.reason) onError?.(error, 'this attempt stopped its work at its next step and wrote nothing of it (no version, no saved evaluation)');
    else onError?.(error);
    // A client error (bad data) is the user's to read, a failed store named as one; internals stay in the log.
    outcome = { status: 'failed', error: recordedMessage(error, 'internal error (see the worker log)'), ...ENDED };
  } finally {
    clearTimeout(overdue);
    // Stopped before the outcome, and whatever happens to it: an attempt that throws (its outcome
    // refused) must leave a heartbeat that goes stale, so Lambda's retry takes the job over.
    await heartbeat.stop();
  }
  // Finished past its deadline (a step, or the writing of its result, outlasted the margin; or an
  // executor that does not watch its signal): readers have counted it failed, so it stays failed,
  // as they saw it.
  const ended = await record((current) => (tooLate(current) ? { status: 'failed', error: overdueError(current), ...ENDED } : outcome));
  if (!ended.written) onError?.(new ConflictError(takenOverBy(jobId, ended.job)), "this attempt's outcome is not recorded");
  return ended.job;
}

function takenOverBy(jobId: string, found: Job): string {
  return `job ${jobId} was taken over by another attempt (attempt ${found.attempts}, ${found.status})`;
}

/** The job's deadline is past, or will be before a write made now can land. */
function tooLate(job: Job): boolean {
  return isOverdue(job, Date.now() + RECORD_MARGIN_MS);
}
