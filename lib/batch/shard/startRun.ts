/**
 * Hands a large file to the batch state machine: one execution per (bucket, key, ETag), named after
 * their hash, so a redelivered S3 event or a retried trigger starts nothing new
 * (ExecutionAlreadyExists) and an upload of new bytes to the same key starts its own run.
 */
import { createHash } from 'node:crypto';
import type { RunInput } from './steps.js';

/** Which state machine: its ARN, or its name (serverless.yml's BATCH_STATE_MACHINE_*). */
interface StateMachineConfig {
  stateMachineArn?: string;
  stateMachineName?: string;
}

/** The state machine's ARN: configured, or built from its name and this function's own ARN (partition, region, account). */
export function stateMachineArn(config: StateMachineConfig, invokedFunctionArn?: string): string | undefined {
  if (config.stateMachineArn) return config.stateMachineArn;
  const [, partition, , region, account] = invokedFunctionArn?.split(':') ?? [];
  if (!config.stateMachineName || !partition || !region || !account) return undefined;
  return `arn:${partition}:states:${region}:${account}:stateMachine:${config.stateMachineName}`;
}

export function executionName(run: RunInput): string {
  return createHash('sha256').update(`${run.bucket}\n${run.key}\n${run.etag}`).digest('hex');
}

export async function startShardedRun(
  arn: string,
  run: RunInput,
  client: { region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } },
): Promise<'started' | 'already started'> {
  // Loaded on demand: only the trigger pays for the Step Functions client, and only for large files.
  const { SFNClient, StartExecutionCommand } = await import('@aws-sdk/client-sfn');
  const sfn = new SFNClient({ region: client.region, endpoint: client.endpoint, credentials: client.credentials });
  try {
    await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: executionName(run), input: JSON.stringify(run) }));
    return 'started';
  } catch (error) {
    if ((error as { name?: string }).name === 'ExecutionAlreadyExists') return 'already started';
    throw error;
  }
}
