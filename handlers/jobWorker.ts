/**
 * Runs queued jobs, invoked asynchronously with {"jobId": "..."} (Lambda async invoke; retries and
 * the dead-letter queue are declared in serverless.yml).
 */
import type { Context } from 'aws-lambda';
import { logger } from '../lib/http/observability.js';
import { runJob, validateJobId } from '../lib/jobs/index.js';
import { modelLoader } from '../lib/loader/index.js';
import { jobExecutors } from '../lib/ops/executors.js';

export async function handler(event: { jobId?: string }, context?: Partial<Context>): Promise<{ id: string; status: string }> {
  const id = validateJobId(String(event?.jobId ?? ''));
  logger.appendKeys({ jobId: id });
  const remainingMs = () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
  const job = await runJob(modelLoader().store, id, jobExecutors, (error) => logger.error('job failed', { error: error as Error }), remainingMs);
  logger.info('job finished', { status: job.status });
  return { id: job.id, status: job.status };
}
