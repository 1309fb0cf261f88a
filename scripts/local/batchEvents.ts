/**
 * S3 notifications -> batchScore invocations, as the s3 events of serverless.yml do in AWS: an
 * object created under batch/input/ ending in .csv, .jsonl or .ndjson invokes the function
 * asynchronously (InvocationType Event) through serverless-offline's Lambda API, with the S3 event
 * as payload.
 */
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { INPUT_PREFIX, INPUT_SUFFIXES } from '../../lib/batch/paths.js';
import type { LocalS3 } from './s3.js';

/** {service}-{stage}-{function}, as serverless names it (stage dev, the default). */
export const BATCH_FUNCTION = 'tfjs-serving-dev-batchScore';

/** The same filter as batchScore's s3 event rules in serverless.yml: created, under batch/input/, a scored suffix. */
export function isBatchUpload(record: S3EventRecord): boolean {
  const key = record.s3?.object?.key ?? '';
  return record.eventName?.startsWith('ObjectCreated:') === true && key.startsWith(INPUT_PREFIX) && INPUT_SUFFIXES.some((s) => key.endsWith(s));
}

/**
 * s3rver puts the key in its event as stored; S3 URL-encodes it (spaces as '+'), and the handler
 * decodes it as S3 sends it. Re-encode so a key with a space, '+' or '%' arrives intact.
 */
function asS3Notification(record: S3EventRecord): S3Event {
  const key = encodeURIComponent(record.s3.object.key).replace(/%2F/g, '/').replace(/%20/g, '+');
  return { Records: [{ ...record, s3: { ...record.s3, object: { ...record.s3.object, key } } }] };
}

export interface BatchWiringOptions {
  /** serverless-offline's Lambda API, e.g. http://127.0.0.1:3002. */
  lambdaEndpoint: string;
  functionName?: string;
  /** Invocations wait for this (events may arrive while serverless offline is still starting). */
  ready?: Promise<unknown>;
  /** Told about each invocation: accepted (HTTP 202), or the error. */
  onInvoke?: (key: string, error?: unknown) => void;
}

/**
 * Subscribes to a local S3's notifications and invokes batchScore asynchronously for each upload
 * its serverless.yml rules would match, one record per invocation as S3 delivers them.
 * Returns the unsubscribe function.
 */
export function wireBatchEvents(onEvent: LocalS3['onEvent'], options: BatchWiringOptions): () => void {
  let client: Promise<{ send: (payload: S3Event) => Promise<number | undefined> }> | undefined;
  const lambda = () =>
    (client ??= import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => {
      // serverless-offline checks no signature: placeholders, so no credential lookup happens.
      const sdk = new LambdaClient({ endpoint: options.lambdaEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      return {
        send: async (payload: S3Event) => {
          const out = await sdk.send(
            new InvokeCommand({ FunctionName: options.functionName ?? BATCH_FUNCTION, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
          );
          return out.StatusCode;
        },
      };
    }));
  return onEvent((event) => {
    for (const record of event.Records ?? []) {
      if (!isBatchUpload(record)) continue;
      const key = record.s3.object.key;
      void (async () => {
        await options.ready;
        const status = await (await lambda()).send(asS3Notification(record));
        if (status !== 202) throw new Error(`the Lambda API answered ${status} instead of 202`);
      })().then(
        () => options.onInvoke?.(key),
        (error: unknown) => options.onInvoke?.(key, error),
      );
    }
  });
}
