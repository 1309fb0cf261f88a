/**
 * A job's deadline, queued or running. Queued: when its worker must have started it, or never will
 * (the asynchronous invoke was lost, or throttled past the event's maximum age, or the worker
 * cannot start). Running: when the attempt running it has either recorded its outcome or never
 * will (its Lambda was stopped at its timeout, or every write of the outcome was refused).
 * Past it, readers count the job failed and no worker changes that, so no client polls a job that
 * says queued or running forever, and no job turns from failed to running or succeeded.
 */

/** Lambda's longest invocation: no attempt runs longer, whatever its caller says. */
const MAX_RUN_MS = 15 * 60 * 1000;

/**
 * Lambda's default and longest maximum event age (6 hours): an asynchronous event not delivered by
 * then is dropped (to the job worker's dead-letter queue), whatever the function says. The bound of
 * a queued record written before queued jobs had deadlines; serverless.yml sets a shorter one.
 */
export const MAX_EVENT_AGE_MS = 6 * 60 * 60 * 1000;

/**
 * Past the event's maximum age, how long the worker may still take to read the record: the event's
 * age counts from when Lambda accepted it (just after the record was written) to the invocation's
 * start, before the worker's cold start and its first read of the store. A job run in this
 * process starts at once: its start deadline is this margin alone.
 */
export const START_MARGIN_MS = 2 * 60 * 1000;

/**
 * Past the attempt's time, how long its outcome may still arrive when Lambda delivers the event
 * again after a failed invocation (a minute or two later, maximumRetryAttempts: 1): the new
 * attempt, finding the heartbeat its predecessor stopped renewing stale (heartbeat.ts), takes the
 * job over and finds what the last one did, instead of finding the job failed. A heartbeat never
 * moves a deadline: the new attempt's start records its own.
 */
export const REDELIVERY_MARGIN_MS = 5 * 60 * 1000;

/**
 * Past the attempt's time, when nothing delivers the job again (it runs in the process that
 * accepted it): the outcome's write and its retries (pauses of 0.25, 0.5 and 1 s, with jitter).
 * The worker also keeps this much before a deadline for its own write (running, or the outcome):
 * a write that began before the deadline could land after a reader saw the job failed.
 */
export const RECORD_MARGIN_MS = 10 * 1000;

const STOPPED_WITHOUT_OUTCOME = 'the worker stopped without recording an outcome';
const NEVER_STARTED = 'the job never started: no worker took it';

/** The deadline of an attempt starting now that has `remainingMs` (at most MAX_RUN_MS) and this margin. */
export function deadlineOf(remainingMs: number, marginMs: number, now = Date.now()): string {
  return new Date(now + Math.min(remainingMs, MAX_RUN_MS) + marginMs).toISOString();
}

/** The deadline of a job queued now whose event may wait up to `maxEventAgeMs` (0: run in this process). */
export function startDeadlineOf(maxEventAgeMs: number, now = Date.now()): string {
  return new Date(now + Math.min(maxEventAgeMs, MAX_EVENT_AGE_MS) + START_MARGIN_MS).toISOString();
}

interface JobTimes {
  status: string;
  deadline?: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * When a queued or running job is overdue. A record written before deadlines were recorded:
 * queued, its creation plus the longest an event is kept; running, its last update (the attempt's
 * start, or a later progress record) plus the longest attempt and its redelivery.
 */
function deadlineOfRecord(job: JobTimes): number {
  if (job.deadline !== undefined) return Date.parse(job.deadline);
  if (job.status === 'queued') return Date.parse(job.createdAt) + MAX_EVENT_AGE_MS + START_MARGIN_MS;
  return Date.parse(job.updatedAt) + MAX_RUN_MS + REDELIVERY_MARGIN_MS;
}

/** A queued or running job whose deadline has passed: it will not start, or no outcome will come. */
export function isOverdue(job: JobTimes, now = Date.now()): boolean {
  return (job.status === 'queued' || job.status === 'running') && now > deadlineOfRecord(job);
}

/** Why an overdue job failed, as readers and the worker record it. */
export function overdueError(job: JobTimes): string {
  const by = `by its deadline (${new Date(deadlineOfRecord(job)).toISOString()})`;
  return job.status === 'queued' ? `${NEVER_STARTED} ${by}; submit it again` : `${STOPPED_WITHOUT_OUTCOME} ${by}`;
}
