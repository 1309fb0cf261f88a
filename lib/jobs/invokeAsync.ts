/**
 * Starts another Lambda invocation without waiting for it (InvocationType Event): the job worker,
 * or batch scoring continuing itself. With no function to call (tests, the CLI, invoke local) the
 * work runs in this process once the caller has moved on.
 */
import { config } from '../config.js';

export async function invokeAsync(
  functionName: string | undefined,
  payload: unknown,
  runInline: () => Promise<unknown>,
  onError: (error: unknown) => void,
): Promise<'lambda' | 'inline'> {
  if (!functionName) {
    setImmediate(() => void runInline().catch(onError));
    return 'inline';
  }
  const { lambdaEndpoint } = config();
  // Loaded on demand: only the functions that start others pay for the Lambda client.
  const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
  // A local endpoint (serverless offline) checks no signature: without credentials in the
  // environment, sign with placeholders rather than fail to find any.
  const local = lambdaEndpoint !== undefined && !process.env.AWS_ACCESS_KEY_ID;
  const client = new LambdaClient({
    endpoint: lambdaEndpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: local ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined,
  });
  await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
  return 'lambda';
}
