/**
 * A running job's deadline: when the attempt running it has either recorded its outcome or never
 * will (its Lambda was stopped at its timeout, or every write of the outcome was refused). The
 * worker writes it as it moves the job to running; past it, readers count the job failed, so no
 * client polls a job that says running forever.
 */

/** Lambda's longest invocation: no attempt runs longer, whatever its caller says. */
const MAX_RUN_MS = 15 * 60 * 1000;

/**
 * Past the attempt's time, how long its outcome may still arrive when Lambda delivers the event
 * again after a failed invocation (a minute or two later, maximumRetryAttempts: 1): the new
 * attempt runs, and finds what the last one did, instead of finding the job failed.
 */
export const REDELIVERY_MARGIN_MS = 5 * 60 * 1000;

/**
 * Past the attempt's time, when nothing delivers the job again (it runs in the process that
 * accepted it): the outcome's write and its retries (pauses of 0.25, 0.5 and 1 s, with jitter).
 */
export const RECORD_MARGIN_MS = 10 * 1000;

export const STOPPED_WITHOUT_OUTCOME = 'the worker stopped without recording an outcome';

/** The deadline of an attempt starting now that has `remainingMs` (at most MAX_RUN_MS) and this margin. */
export function deadlineOf(remainingMs: number, marginMs: number, now = Date.now()): string {
  return new Date(now + Math.min(remainingMs, MAX_RUN_MS) + marginMs).toISOString();
}

/**
 * When a running job is overdue. A record written before deadlines were recorded: its last update
 * (the attempt's start, or a later progress record) plus the longest attempt and its redelivery.
 */
export function deadlineOfRecord(job: { deadline?: string; updatedAt: string }): number {
  return job.deadline !== undefined ? Date.parse(job.deadline) : Date.parse(job.updatedAt) + MAX_RUN_MS + REDELIVERY_MARGIN_MS;
}

/** A running job whose deadline has passed: no outcome will come. */
export function isOverdue(job: { status: string; deadline?: string; updatedAt: string }, now = Date.now()): boolean {
  return job.status === 'running' && now > deadlineOfRecord(job);
}
