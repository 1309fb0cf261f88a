/**
 * Batch scoring, triggered by S3 ObjectCreated events under batch/input/{model}[@alias|:version]/
 * (.csv, .jsonl, .ndjson), and by its own continuations ({"continue": {"bucket", "key"}}) when a
 * file needs more than one invocation.
 */
import type { Context, S3Event } from 'aws-lambda';
import { runBatchEvent } from '../lib/batch/handlerCore.js';

export function handler(event: S3Event | { continue: { bucket: string; key: string } }, context?: Partial<Context>): Promise<unknown> {
  return runBatchEvent(event, context, handler);
}
