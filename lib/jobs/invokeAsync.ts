/**
 * Starts another Lambda invocation without waiting for it (InvocationType Event): the job worker,
 * or batch scoring continuing itself. With no function to call (tests, the CLI, invoke local) the
 * work runs in this process once the caller has moved on.
 */

/** Which Lambda to start, and where its API is (serverless offline's; unset: AWS's). */
export interface InvokeTarget {
  functionName?: string;
  lambdaEndpoint?: string;
  region: string;
  /** Credentials are in the environment; without them a local endpoint gets placeholders. */
  hasAwsCredentials: boolean;
}

export async function invokeAsync(
  { functionName, lambdaEndpoint, region, hasAwsCredentials }: InvokeTarget,
  payload: unknown,
  runInline: () => Promise<unknown>,
  onError: (error: unknown) => void,
): Promise<'lambda' | 'inline'> {
  if (!functionName) {
    setImmediate(() => void runInline().catch(onError));
    return 'inline';
  }
  // Loaded on demand: only the functions that start others pay for the Lambda client.
  const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
  // A local endpoint (serverless offline) checks no signature: without credentials in the
  // environment, sign with placeholders rather than fail to find any.
  const local = lambdaEndpoint !== undefined && !hasAwsCredentials;
  const client = new LambdaClient({
    endpoint: lambdaEndpoint,
    region,
    credentials: local ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined,
  });
  await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
  return 'lambda';
}
