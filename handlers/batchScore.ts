/**
 * Batch scoring, triggered by S3 ObjectCreated events under batch/input/{model}[@alias|:version]/
 * (.csv, .jsonl, .ndjson), and by its own continuations ({"continue": {"bucket", "key"}}) when a
 * file needs more than one invocation. A file larger than BATCH_SHARD_BYTES is handed to the batch
 * state machine (ranges scored by many functions at once) when one is configured.
 */
import type { Context } from 'aws-lambda';
import { runBatchEvent, type BatchEvent, type ShardedStarter } from '../lib/batch/handlerCore.js';
import { startShardedRun, stateMachineArn } from '../lib/batch/shard/startRun.js';
import { createServices, type Services } from '../lib/services.js';

function shardedStarter(services: Services, context?: Partial<Context>): ShardedStarter | undefined {
  const { config } = services;
  const arn = stateMachineArn(config.batchShard, context?.invokedFunctionArn);
  if (!arn) return undefined;
  return async (run) => {
    await startShardedRun(
      arn,
      { bucket: run.bucket, key: run.key, etag: run.etag },
      { region: config.region, endpoint: config.batchShard.endpoint, credentials: config.awsCredentials },
    );
    return arn;
  };
}

export function batchScore(services: Services) {
  const score = (event: BatchEvent, context?: Partial<Context>): Promise<unknown> => runBatchEvent(services, event, context, score, shardedStarter(services, context));
  return score;
}

export const handler = batchScore(createServices());
