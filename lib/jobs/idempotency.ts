/**
 * A client's `Idempotency-Key` on a job's submission (the IETF draft "The Idempotency-Key HTTP
 * Header Field", as Stripe and AWS's client tokens have it): a retry whose first answer was lost
 * finds the job the first made instead of starting another (a second fine-tune trains a second
 * version; a second evaluation saves a second one).
 *
 * The key, with the job's kind and the model as the path names it (name, version or alias), is
 * hashed into the key of a small record, written create-only, that holds the job's id: the id stays
 * random (a key a client chose, "nightly", must not let anyone who guesses it read the job), and
 * two function instances receiving a submission and its retry at once agree on one job.
 */
import { createHash, randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, NotFoundError, quoted, UnprocessableError } from '../errors.js';
import { keys } from '../registry/index.js';
import { getJson, putNew, type ObjectStore } from '../store/index.js';
import { isOverdue } from './deadline.js';
import { readJob, validateJobId, type Job, type JobKind } from './records.js';

/** Printable ASCII, as the draft's examples and Stripe's keys are: a UUID, a hash, a request id. */
const KEY = /^[\x20-\x7e]{1,255}$/;

/** What a job whose worker could not be started reads (submit.ts); a retry under its key starts it. */
export const DISPATCH_FAILED = 'the job worker could not be started';

/** What names a submission: the client's key, for this kind of job, of the model as the path names it. */
export interface Submission {
  kind: JobKind;
  /** The model as the request names it (iris, iris:2, iris@staging): a key names one submission to one of them. */
  model: string;
  key: string;
}

/** The header's value, checked; undefined when it is absent. */
export function idempotencyKeyOf(headers: Record<string, string | undefined>): string | undefined {
  const key = headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (!KEY.test(key) || key.trim() === '') throw new BadRequestError(`Idempotency-Key ${quoted(key)}: expected 1 to 255 printable ASCII characters (a UUID, say)`);
  return key;
}

/**
 * Where what a key names is kept (a job's id; a saved evaluation's, ops/evaluate/keyedSave.ts): under
 * _jobs/, which only the API's write functions and the worker touch.
 */
export function keyRecordKey({ kind, model, key }: { kind: JobKind | 'saved-evaluation'; model: string; key: string }): string {
  return keys.jobSubmission(createHash('sha256').update(`${kind}\0${model}\0${key}`).digest('hex'));
}
const recordKey = (submission: Submission): string => keyRecordKey(submission);

/** The id of the job this submission names: the one an earlier submission recorded, else a new one recorded now. */
export async function jobIdOf(store: ObjectStore, submission: Submission): Promise<string> {
  const jobId = randomUUID();
  try {
    await putNew(store, recordKey(submission), JSON.stringify({ jobId }), { contentType: 'application/json' });
    return jobId;
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    // Refused because a record is there: the earlier submission's (never removed).
    return (await recordedId(store, submission)) ?? jobId;
  }
}

async function recordedId(store: ObjectStore, submission: Submission): Promise<string | undefined> {
  const record = await getJson<{ jobId?: unknown }>(store, recordKey(submission)).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  return typeof record?.jobId === 'string' ? validateJobId(record.jobId) : undefined;
}

/** The request a job was submitted with is this one, or the key was used for another: a 422, as the draft has it. */
export function checkSameRequest(job: Pick<Job, 'id' | 'request'>, request: unknown, key: string): void {
  if (JSON.stringify(job.request) !== JSON.stringify(request)) {
    throw new UnprocessableError(`Idempotency-Key ${quoted(key)} was sent before with another request (job ${job.id}): a new request takes a new key`);
  }
}

/**
 * Whether a job made under a key needs its worker sent again when the submission is retried: one
 * still queued (its worker's invoke failed, or the submitting function died before sending it; a
 * second event is safe, the worker's conditional start runs a job once), or failed because no
 * worker could be started (its client was told to retry).
 */
export function awaitsWorker(job: Job): boolean {
  return job.status === 'queued' || (job.status === 'failed' && job.error === DISPATCH_FAILED);
}

/** Whether a queued job's start deadline has passed (it reads failed): a retry queues it anew. */
export const startOverdue = (job: Job): boolean => job.status === 'queued' && isOverdue(job);

/**
 * The job an earlier submission under this key made, as readers see it, when a retry needs nothing
 * more of it (no model load, no check of a data set that may be gone since); undefined when there is
 * none yet or its worker must be sent again (submitJob does both). Another request: a 422.
 */
export async function earlierJob(store: ObjectStore, submission: Submission, request: unknown): Promise<Job | undefined> {
  const id = await recordedId(store, submission);
  if (id === undefined) return undefined;
  const job = await getJson<Job>(store, keys.job(id)).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (!job) return undefined;
  checkSameRequest(job, request, submission.key);
  return awaitsWorker(job) ? undefined : readJob(store, id);
}
