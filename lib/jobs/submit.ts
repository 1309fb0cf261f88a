/**
 * Accepting a job: write its record (queued), then hand it to the worker: an asynchronous invoke
 * of the job worker function in AWS and under serverless offline, this process when no worker
 * function is configured (tests, the CLI, invoke local), within the worker's time. If the worker cannot be started the record says so
 * (failed) and the caller gets a 503 to retry, instead of a job that stays queued forever.
 *
 * The record's start deadline: the worker function's maximum event age (how long Lambda keeps
 * trying to deliver the event; past it the event goes to the dead-letter queue) plus a margin; in
 * this process, where the job starts at once, the margin alone. A job whose event is lost then
 * reads failed ("never started") instead of queued forever.
 */
import { z } from 'zod';
import { ConflictError, UnavailableError } from '../errors.js';
import type { ObjectStore } from '../store/index.js';
import { awaitsWorker, checkSameRequest, DISPATCH_FAILED, jobIdOf, startOverdue, type Submission } from './idempotency.js';
import { invokeAsync, type InvokeTarget } from './invokeAsync.js';
import { createJob, readJob, updateJobIf, type Job, type JobKind } from './records.js';
import { RECORD_MARGIN_MS, startDeadlineOf } from './deadline.js';
import { runJob, type JobEnvironment, type JobErrorReport, type JobExecutors } from './worker.js';

export async function submitJob(
  environment: JobEnvironment & { worker: InvokeTarget; workerTimeoutMs: number; workerMaxEventAgeMs: number },
  kind: JobKind,
  model: Job['model'],
  request: unknown,
  executors: JobExecutors,
  onError: (error: unknown, job: Job, warning?: string) => void,
  submission?: Submission,
): Promise<Job> {
  const { store, worker } = environment;
  const maxEventAgeMs = worker.functionName ? environment.workerMaxEventAgeMs : 0;
  let job: Job;
  if (submission === undefined) job = await createJob(store, kind, model, request, { maxEventAgeMs });
  else {
    const id = await jobIdOf(store, submission);
    const created = await createJob(store, kind, model, request, { maxEventAgeMs, id }).catch((error: unknown) => {
      if (error instanceof ConflictError) return undefined;
      throw error;
    });
    if (created) job = created;
    else {
      const again = await retried(store, id, request, maxEventAgeMs, submission.key);
      if (!again) return readJob(store, id);
      job = again;
    }
  }
  const report = (error: unknown, warning?: string) => onError(error, job, warning);
  try {
    await invokeAsync(worker, { jobId: job.id }, () => runInline(environment, job.id, executors, report), report);
  } catch (error) {
    // An invoke can fail after Lambda accepted the event (its answer lost): a worker may have taken
    // the job already. Only a job still queued is failed; one a worker took is the worker's, and the
    // client gets its id as for any accepted job (polling it shows how it went).
    const failed = await updateJobIf(store, job.id, (current) => (current.status === 'queued' ? { status: 'failed', error: DISPATCH_FAILED, deadline: undefined } : undefined));
    if (failed.written) throw new UnavailableError('job dispatch failed', 5, { cause: error, publicMessage: 'the job worker could not be started; retry later' });
    report(error, 'the job worker invoke failed, but a worker had taken the job: it is left to it');
  }
  return job;
}

/**
 * A submission again under the key of an earlier one whose job exists: undefined when that job needs
 * nothing more (no second run); the job to send the worker again when it awaits one (still queued,
 * its start deadline renewed if passed; or failed because no worker could be started: queued again).
 * Another request under the key is a 422.
 */
async function retried(store: ObjectStore, id: string, request: unknown, maxEventAgeMs: number, key: string): Promise<Job | undefined> {
  const { job } = await updateJobIf(store, id, (current) => {
    checkSameRequest(current, request, key);
    if (!awaitsWorker(current)) return undefined;
    return current.status === 'queued' && !startOverdue(current) ? undefined : { status: 'queued', error: undefined, deadline: startDeadlineOf(maxEventAgeMs) };
  });
  return awaitsWorker(job) ? job : undefined;
}

/**
 * A job run in this process: it gets the worker function's time (a fine-tune stops training in
 * time to save, as in the worker), and nothing delivers it again, so its deadline's margin covers
 * only the outcome's write.
 */
function runInline(environment: JobEnvironment & { workerTimeoutMs: number }, jobId: string, executors: JobExecutors, report: JobErrorReport): Promise<Job> {
  const until = Date.now() + environment.workerTimeoutMs;
  return runJob(environment, jobId, executors, report, () => until - Date.now(), RECORD_MARGIN_MS);
}

/** The 202 answer's body (the source of its OpenAPI documentation). */
export const jobAcceptedResponse = z
  .object({
    id: z.string(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed']),
    model: z.object({ name: z.string(), version: z.number().int().positive() }),
    location: z.string(),
  })
  .describe('the job accepted, and where to poll it (also in the Location header)');

/** The 202 answer for an accepted job: where to poll it. */
export function acceptedReply(job: Job): { status: number; headers: Record<string, string>; body: z.input<typeof jobAcceptedResponse> } {
  const location = `/v2/jobs/${job.id}`;
  return { status: 202, headers: { location }, body: { id: job.id, status: job.status, model: job.model, location } };
}
