/**
 * Batch scoring, triggered by S3 ObjectCreated events under batch/input/{model}[@alias|:version]/
 * (.csv, .jsonl, .ndjson), and by its own continuations ({"continue": {"bucket", "key"}}) when a
 * file needs more than one invocation.
 */
import type { Context } from 'aws-lambda';
import { runBatchEvent, type BatchEvent } from '../lib/batch/handlerCore.js';
import { createServices, type Services } from '../lib/services.js';

export function batchScore(services: Services) {
  const score = (event: BatchEvent, context?: Partial<Context>): Promise<unknown> => runBatchEvent(services, event, context, score);
  return score;
}

export const handler = batchScore(createServices());
