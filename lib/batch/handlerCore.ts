/** The batch scoring event loop: which store, which keys, and how to continue. */
import type { Context, S3Event } from 'aws-lambda';
import { invokeAsync } from '../jobs/invokeAsync.js';
import { logger } from '../observability.js';
import { uploadStore, type Services } from '../services.js';
import { createdObjects } from '../store/s3Events.js';
import { versionOf } from '../store/index.js';
import { INPUT_PREFIX, isRunId, parseInputKey } from './paths.js';
import { scoreObject, type BatchOutcome } from './run.js';

/** A run's next invocation: which file, and which run (its parts and checkpoint: paths.ts runFiles). */
type Continuation = { continue: { bucket: string; key: string; run?: string } };
export type BatchEvent = S3Event | Continuation;

/** What an event asks to score; what cannot be read is named in the log and left out (retrying would not mend it). */
function targets(event: BatchEvent): { bucket: string; key: string; resume?: string }[] {
  const skip = (why: string) => logger.error('malformed batch event: left out', { why });
  if (typeof event !== 'object' || event === null) {
    skip('not an object');
    return [];
  }
  if ('continue' in event) {
    const { bucket, key, run } = (event.continue ?? {}) as Partial<Continuation['continue']>;
    if (typeof bucket !== 'string' || typeof key !== 'string') {
      skip('a continuation without its bucket and key in text');
      return [];
    }
    // A continuation without a run id (sent before runs had them, whose checkpoint this code does
    // not read) starts the file again, as a new run: slower, never wrong.
    return [{ bucket, key, resume: isRunId(run) ? run : undefined }];
  }
  return createdObjects(event, skip).filter((t) => t.key.startsWith(INPUT_PREFIX));
}

/**
 * A file too large for one function (BATCH_SHARD_BYTES) goes to the sharded run instead: the handler
 * passes how to start it (lib/batch/shard/startRun.ts), or nothing where there is no state machine
 * (invoke local, npm start, tests): then every file is scored here, as before.
 */
export type ShardedStarter = (run: { bucket: string; key: string; etag: string; size: number }) => Promise<string | undefined>;

function namesModel(key: string): boolean {
  try {
    parseInputKey(key);
    return true;
  } catch {
    return false;
  }
}

export async function runBatchEvent(
  services: Services,
  event: BatchEvent,
  context: Partial<Context> | undefined,
  self: (event: Continuation) => Promise<unknown>,
  startSharded?: ShardedStarter,
): Promise<BatchOutcome[]> {
  const { config } = services;
  const { batchMarginMs } = config;
  const outcomes: BatchOutcome[] = [];
  for (const target of targets(event)) {
    logger.appendKeys({ batchKey: target.key });
    const store = uploadStore(services, target.bucket);
    // A key that names no model is refused by scoreObject (a failed manifest), whatever the file's size.
    if (startSharded && !target.resume && namesModel(target.key)) {
      const source = await store.head(target.key);
      if (source && source.size > config.batchShard.shardBytes) {
        const started = await startSharded({ bucket: target.bucket, key: target.key, etag: versionOf(source), size: source.size });
        if (started) {
          logger.info('batch file handed to the state machine', { size: source.size, execution: started });
          outcomes.push({ status: 'continued' });
          continue;
        }
      }
    }
    const outcome = await scoreObject(store, services.loader, target.key, {
      limits: services.batchLimits,
      marginMs: batchMarginMs,
      resume: target.resume,
      remainingMs: () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY,
      continueLater: async (key, run) => {
        const next: Continuation = { continue: { bucket: target.bucket, key, run } };
        // In AWS and under serverless offline the function invokes itself; elsewhere (invoke local,
        // tests) the continuation runs in this process.
        const functionName = config.inLambda ? context?.functionName : undefined;
        const selfInvoke = { functionName, lambdaEndpoint: config.lambdaEndpoint, region: config.region, hasAwsCredentials: config.hasAwsCredentials };
        await invokeAsync(
          selfInvoke,
          next,
          () => self(next),
          (error) => logger.error('batch continuation failed', { error: error as Error }),
        );
      },
    });
    logger.info('batch file', { status: outcome.status, run: outcome.run, rows: outcome.manifest?.rows });
    outcomes.push(outcome);
  }
  return outcomes;
}
