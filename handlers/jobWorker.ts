/**
 * Runs queued jobs, invoked asynchronously with {"jobId": "..."} (Lambda async invoke; retries and
 * the dead-letter queue are declared in serverless.yml).
 */
import { logger } from '../lib/http/observability.js';
import { runJob, validateJobId } from '../lib/jobs/index.js';
import { modelLoader } from '../lib/loader/index.js';
import { evaluateJob } from '../lib/ops/evaluate/executor.js';

export async function handler(event: { jobId?: string }): Promise<{ id: string; status: string }> {
  const id = validateJobId(String(event?.jobId ?? ''));
  logger.appendKeys({ jobId: id });
  const job = await runJob(modelLoader().store, id, { evaluate: evaluateJob }, (error) => logger.error('job failed', { error: error as Error }));
  logger.info('job finished', { status: job.status });
  return { id: job.id, status: job.status };
}
