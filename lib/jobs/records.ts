/**
 * Job records `_jobs/{id}.json`: long evaluations and fine-tuning run outside the request that
 * asked for them (API Gateway stops waiting after 29 s). The record is the only shared state:
 * the API writes it queued (with the deadline by which it must start), the worker moves it to
 * running (with the attempt's deadline, its owner and the owner's heartbeat), then succeeded or
 * failed. A reader counts a queued or running job past its deadline failed (deadline.ts). The
 * worker's writes replace only the version of the record they decided on (If-Match, updateJobIf):
 * Lambda may deliver one event twice, and of two attempts only one may start the job or record
 * its outcome.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { BadRequestError, ConflictError, IntegrityError, NotFoundError, quoted, ServiceError } from '../errors.js';
import { keys } from '../registry/index.js';
import { getJson, getJsonVersioned, putNew, type ObjectStore } from '../store/index.js';
import { isOverdue, MAX_EVENT_AGE_MS, overdueError, startDeadlineOf } from './deadline.js';

const JOB_KINDS = ['evaluate', 'fine-tune'] as const;
const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;

/** A job record, as GET /v2/jobs/{id} answers it (also the source of its OpenAPI documentation). */
export const jobSchema = z.object({
  id: z.string(),
  kind: z.enum(JOB_KINDS),
  status: z.enum(JOB_STATUSES),
  model: z.object({ name: z.string(), version: z.number().int().positive() }),
  request: z.unknown(),
  progress: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  attempts: z.number().int().min(0).default(0),
  /** Queued: when it must have started. Running: when the attempt has recorded its outcome or never will (deadline.ts). */
  deadline: z.string().optional(),
  /** The attempt that started it (a random id of its own): only that attempt records its progress and outcome. */
  owner: z.string().optional(),
  /** Running: when its owner last said it is alive, and how often it says so (heartbeat.ts). */
  heartbeat: z.string().optional(),
  heartbeatMs: z.number().int().positive().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Job = z.infer<typeof jobSchema>;
export type JobKind = (typeof JOB_KINDS)[number];
export type JobPatch = Partial<Pick<Job, 'status' | 'progress' | 'result' | 'error' | 'attempts' | 'deadline' | 'owner' | 'heartbeat' | 'heartbeatMs'>>;

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function validateJobId(id: string): string {
  if (!JOB_ID.test(id)) throw new BadRequestError(`invalid job id ${quoted(id)}: expected a UUID`);
  return id;
}

async function write(store: ObjectStore, job: Job, create = false): Promise<Job> {
  // A created record is a fresh id's: refused with the very bytes written, it is this write's own,
  // landed before the client's retry (putNew), not a 409 for a job that was accepted.
  if (create) await putNew(store, keys.job(job.id), JSON.stringify(job), { contentType: 'application/json' });
  else await store.put(keys.job(job.id), JSON.stringify(job), { contentType: 'application/json' });
  return job;
}

/** Writes of an update, and the pause before the second (doubled before each next: 0.25 + 0.5 + 1 s). */
const UPDATE_ATTEMPTS = 4;
const FIRST_PAUSE_MS = 250;

/** A store refusal (4xx) or a damaged record is an answer a retry would not change; a 5xx, throttling or network error may pass. */
const mayPass = (error: unknown) => !(error instanceof ServiceError && error.statusCode < 500) && !(error instanceof IntegrityError);

/**
 * A queued job, which must start within `maxEventAgeMs` (how long its event may wait to be
 * delivered; 0 when it runs in this process) and the start's margin, or it reads failed. Its id is
 * random, or the one a client's Idempotency-Key makes.
 */
export async function createJob(
  store: ObjectStore,
  kind: JobKind,
  model: Job['model'],
  request: unknown,
  { maxEventAgeMs = MAX_EVENT_AGE_MS, now = Date.now(), id = randomUUID() }: { maxEventAgeMs?: number; now?: number; id?: string } = {},
): Promise<Job> {
  const at = new Date(now).toISOString();
  const deadline = startDeadlineOf(maxEventAgeMs, now);
  // An id of the client's key (idempotency.ts) may be taken: a ConflictError, which the submitter reads.
  return write(store, { id, kind, status: 'queued', model, request, attempts: 0, deadline, createdAt: at, updatedAt: at }, true);
}

/**
 * The job as readers see it: a queued or running job past its deadline is failed, saying why. A
 * running job shows its heartbeat: when the attempt running it last said it is alive.
 */
export async function readJob(store: ObjectStore, id: string): Promise<Job> {
  // Ids are made lower-case (randomUUID); a UUID is the same in capitals (RFC 9562).
  const { owner: _worker, heartbeatMs: _interval, request, ...job } = await withStoredVersion(store, asSeen(await readJobRecord(store, id.toLowerCase())));
  // Which attempt runs it, and how often it renews its heartbeat, are the workers' business; rows sent inline are the worker's to read.
  return { ...job, request: withoutBulk(request) };
}

/**
 * A failed fine-tune whose version is stored all the same (its outcome's writes were refused, and
 * it read failed past its deadline; or its commit's answer was lost): said so, or the client, told
 * to submit it again, trains a second version. Read only, at best effort: the claim
 * (ops/fineTune/jobVersion.ts) and the version's commit marker; a store that does not answer leaves
 * the job as it reads.
 */
async function withStoredVersion(store: ObjectStore, job: Job): Promise<Job> {
  if (job.kind !== 'fine-tune' || job.status !== 'failed') return job;
  const { name } = job.model;
  const claimed = (await getJson(store, keys.fineTuneClaim(name, job.id)).catch(() => undefined)) as { version?: unknown } | undefined;
  const version = claimed?.version;
  if (typeof version !== 'number' || !Number.isInteger(version)) return job;
  if (!(await store.head(keys.manifest(name, version)).catch(() => undefined))) return job;
  return {
    ...job,
    error: `${job.error ?? 'failed'}; the version it trained is stored all the same: ${name}:${version} (GET /v2/models/${name}/versions/${version}); submitting it again trains another`,
  };
}

/** An array whose JSON is longer than this is told by its length in a job's answer, not repeated. */
const BULK_CHARS = 4096;

/**
 * The request as a job's answer shows it: its options as sent, its inline rows (instances, labels,
 * validation rows) by their count. Repeated whole, a fine-tune of 5 MB of rows answered every poll
 * with 5 MB, and a request near the 6 MB limit would have made an answer over what Lambda returns.
 */
function withoutBulk(value: unknown): unknown {
  if (Array.isArray(value)) return JSON.stringify(value).length > BULK_CHARS ? `(${value.length} items, not repeated in the job's answer)` : value;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, withoutBulk(inner)]));
}

/** A queued or running job past its deadline, as it ended: failed. What the store holds is left as it is. */
function asSeen(job: Job, now = Date.now()): Job {
  if (!isOverdue(job, now)) return job;
  return { ...job, status: 'failed', error: overdueError(job) };
}

/** The record as stored. */
async function readJobRecord(store: ObjectStore, id: string): Promise<Job> {
  validateJobId(id);
  try {
    return jobRecord(await getJson(store, keys.job(id)), id);
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError(`no job ${id}`);
    throw error;
  }
}

/** A stored job record, checked: one that is not (a hand edit) is damage, a 500 saying so, as a record that is not JSON is (store/objectStore.ts). */
function jobRecord(value: unknown, id: string): Job {
  const parsed = jobSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new IntegrityError(`job ${id}: not a valid job record: ${parsed.error.message}`, { publicMessage: `job ${id}'s record is damaged in the store (not a valid job record)` });
}

/** The record as stored, its body as written and its ETag: what a conditional write replaces. */
async function readVersioned(store: ObjectStore, id: string): Promise<{ job: Job; body: string; etag: string }> {
  const read = await getJsonVersioned(store, keys.job(id));
  if (!read) throw new NotFoundError(`no job ${id}`);
  return { job: jobRecord(read.value, id), body: JSON.stringify(read.value), etag: read.etag };
}

/**
 * Writes the job with `patch`, retried on store errors that may pass (`attempts` writes at most,
 * backing off): one SlowDown while a job recorded its success failed the job for good, though its
 * version was written and promoted. Unconditional: the worker writes with updateJobIf instead.
 */
export async function updateJob(store: ObjectStore, job: Job, patch: JobPatch, { attempts = UPDATE_ATTEMPTS }: { attempts?: number } = {}): Promise<Job> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write(store, { ...job, ...patch, updatedAt: new Date().toISOString() });
    } catch (error) {
      if (attempt >= attempts || !mayPass(error)) throw error;
      await sleep(FIRST_PAUSE_MS * 2 ** (attempt - 1) * (0.5 + Math.random()));
    }
  }
}

/**
 * What a write makes of the record as read: the patch, or undefined to leave it. Asked again on the
 * record read again when another write replaced the version this one was decided on.
 */
export type JobDecision = (current: Job) => JobPatch | undefined;

/** Times a write may find the record replaced by another before giving up (a 409: the event is delivered again). */
const RACES = 5;

/**
 * Reads the record, asks `decide` what to write, and writes it over the very version read
 * (If-Match): of two attempts writing at once (Lambda delivers an event at least once, sometimes
 * twice together) the second is refused, reads the record again and decides again,
 * instead of undoing the first, as two deliveries both starting the job did. Store errors that may
 * pass are retried as updateJob's are. Returns the record written (`written`), or the record as
 * found when `decide` left it.
 */
export async function updateJobIf(
  store: ObjectStore,
  id: string,
  decide: JobDecision,
  { attempts = UPDATE_ATTEMPTS }: { attempts?: number } = {},
): Promise<{ job: Job; written: boolean }> {
  let races = 0;
  let failures = 0;
  for (;;) {
    try {
      const read = await readVersioned(store, id);
      const patch = decide(read.job);
      if (!patch) return { job: read.job, written: false };
      const job = { ...read.job, ...patch, updatedAt: new Date().toISOString() };
      const body = JSON.stringify(job);
      try {
        await store.put(keys.job(id), body, { ifMatch: read.etag, contentType: 'application/json' });
        return { job, written: true };
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        // Refused because this very write had landed (the client retried it after a lost answer)?
        // The body is this attempt's own (its owner id, its time), so no other write equals it.
        const now = await readVersioned(store, id);
        if (now.body === body) return { job, written: true };
        if (++races >= RACES) throw new ConflictError(`job ${id} kept being written by other attempts meanwhile`);
      }
    } catch (error) {
      if (++failures >= attempts || !mayPass(error)) throw error;
      await sleep(FIRST_PAUSE_MS * 2 ** (failures - 1) * (0.5 + Math.random()));
    }
  }
}
