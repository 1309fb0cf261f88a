/**
 * Job records `_jobs/{id}.json`: long evaluations and fine-tuning run outside the request that
 * asked for them (API Gateway stops waiting after 29 s). The record is the only shared state:
 * the API writes it queued, the worker moves it to running, then succeeded or failed.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { BadRequestError, NotFoundError, quoted } from '../errors.js';
import { keys } from '../registry/index.js';
import { getJson, type ObjectStore } from '../store/index.js';

const JOB_KINDS = ['evaluate', 'fine-tune'] as const;
const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;

const jobSchema = z.object({
  id: z.string(),
  kind: z.enum(JOB_KINDS),
  status: z.enum(JOB_STATUSES),
  model: z.object({ name: z.string(), version: z.number().int().positive() }),
  request: z.unknown(),
  progress: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  attempts: z.number().int().min(0).default(0),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Job = z.infer<typeof jobSchema>;
export type JobKind = (typeof JOB_KINDS)[number];

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function validateJobId(id: string): string {
  if (!JOB_ID.test(id)) throw new BadRequestError(`invalid job id ${quoted(id)}: expected a UUID`);
  return id;
}

async function write(store: ObjectStore, job: Job, create = false): Promise<Job> {
  await store.put(keys.job(job.id), JSON.stringify(job), { ifNoneMatch: create, contentType: 'application/json' });
  return job;
}

export async function createJob(store: ObjectStore, kind: JobKind, model: Job['model'], request: unknown): Promise<Job> {
  const now = new Date().toISOString();
  return write(store, { id: randomUUID(), kind, status: 'queued', model, request, attempts: 0, createdAt: now, updatedAt: now }, true);
}

export async function readJob(store: ObjectStore, id: string): Promise<Job> {
  validateJobId(id);
  try {
    return jobSchema.parse(await getJson(store, keys.job(id)));
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError(`no job ${id}`);
    throw error;
  }
}

export async function updateJob(store: ObjectStore, job: Job, patch: Partial<Pick<Job, 'status' | 'progress' | 'result' | 'error' | 'attempts'>>): Promise<Job> {
  return write(store, { ...job, ...patch, updatedAt: new Date().toISOString() });
}
