/**
 * Hands a job to the worker. In AWS (and under serverless offline) that is an asynchronous Lambda
 * invoke of the job worker function; with no worker function configured (tests, the CLI) the job
 * runs in this process after the caller has its answer.
 */
import { config } from '../config.js';
import type { Job } from './records.js';

export type InlineRunner = (jobId: string) => Promise<unknown>;

export async function dispatchJob(job: Job, runInline: InlineRunner, onError: (error: unknown) => void): Promise<'lambda' | 'inline'> {
  const { jobWorkerFunction, lambdaEndpoint } = config();
  if (!jobWorkerFunction) {
    setImmediate(() => void runInline(job.id).catch(onError));
    return 'inline';
  }
  // Loaded on demand: only the functions that dispatch jobs pay for the Lambda client.
  const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
  // A local endpoint (serverless offline) checks no signature: without credentials in the
  // environment, sign with placeholders rather than fail to find any.
  const local = lambdaEndpoint !== undefined && !process.env.AWS_ACCESS_KEY_ID;
  const client = new LambdaClient({
    endpoint: lambdaEndpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: local ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined,
  });
  await client.send(new InvokeCommand({ FunctionName: jobWorkerFunction, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify({ jobId: job.id })) }));
  return 'lambda';
}
