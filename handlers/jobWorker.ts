/**
 * Runs queued jobs, invoked asynchronously with {"jobId": "..."} (Lambda async invoke; retries and
 * the dead-letter queue are declared in serverless.yml).
 */
import type { Context } from 'aws-lambda';
import { runJob, validateJobId } from '../lib/jobs/index.js';
import { logger } from '../lib/observability.js';
import { evaluateJob } from '../lib/ops/evaluate/executor.js';
import { fineTuneJob } from '../lib/ops/fineTune/executor.js';
import { createServices, jobEnvironment, type Services } from '../lib/services.js';

const EXECUTORS = { evaluate: evaluateJob, 'fine-tune': fineTuneJob };

export function jobWorker(services: Services) {
  return async (event: { jobId?: string }, context?: Partial<Context>): Promise<{ id: string; status: string }> => {
    const id = validateJobId(String(event?.jobId ?? ''));
    logger.appendKeys({ jobId: id });
    const remainingMs = () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    const report = (error: unknown, warning?: string) => (warning ? logger.warn(warning, { error: error as Error }) : logger.error('job failed', { error: error as Error }));
    const job = await runJob(jobEnvironment(services), id, EXECUTORS, report, remainingMs);
    logger.info('job finished', { status: job.status });
    return { id: job.id, status: job.status };
  };
}

export const handler = jobWorker(createServices());
