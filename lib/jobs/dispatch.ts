/**
 * Hands a job to the worker: an asynchronous invoke of the job worker function in AWS and under
 * serverless offline; in this process when no worker function is configured (tests, the CLI).
 */
import { config } from '../config.js';
import { invokeAsync } from './invokeAsync.js';
import type { Job } from './records.js';

export function dispatchJob(job: Job, runInline: (jobId: string) => Promise<unknown>, onError: (error: unknown) => void): Promise<'lambda' | 'inline'> {
  return invokeAsync(config().jobWorkerFunction, { jobId: job.id }, () => runInline(job.id), onError);
}
