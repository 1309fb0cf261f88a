/**
 * Runs queued jobs, invoked asynchronously with {"jobId": "..."} (Lambda async invoke; retries and
 * the dead-letter queue are declared in serverless.yml).
 */
import type { Context } from 'aws-lambda';
import { logJobFailure, runJob, validateJobId } from '../lib/jobs/index.js';
import { logger } from '../lib/observability.js';
import { evaluateJob } from '../lib/ops/evaluate/executor.js';
import { fineTuneJob } from '../lib/ops/fineTune/executor.js';
import { createServices, jobEnvironment, type Services } from '../lib/services.js';

const EXECUTORS = { evaluate: evaluateJob, 'fine-tune': fineTuneJob };

/**
 * The job an event names. The API sends {"jobId": a UUID}; anyone else with invoke rights can send
 * anything, and an event that names no job is named in the log and left out, as the batch and
 * import functions leave theirs out: throwing would only have Lambda retry it into the dead-letter queue.
 */
function jobIdOf(event: unknown): string | undefined {
  const skip = (why: string) => logger.error('malformed job event: left out', { why });
  const jobId = (event as { jobId?: unknown } | null)?.jobId;
  if (typeof jobId !== 'string') {
    skip('an event without a jobId in text');
    return undefined;
  }
  try {
    return validateJobId(jobId);
  } catch (error) {
    skip((error as Error).message);
    return undefined;
  }
}

export function jobWorker(services: Services) {
  return async (event: { jobId?: string }, context?: Partial<Context>): Promise<{ id: string; status: string } | undefined> => {
    const id = jobIdOf(event);
    if (!id) return undefined;
    logger.appendKeys({ jobId: id });
    const remainingMs = () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    const report = (error: unknown, warning?: string) => logJobFailure('job', error, {}, warning);
    const job = await runJob(jobEnvironment(services), id, EXECUTORS, report, remainingMs);
    logger.info('job finished', { status: job.status });
    return { id: job.id, status: job.status };
  };
}

export const handler = jobWorker(createServices());
