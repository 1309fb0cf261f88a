/**
 * S3 notifications -> function invocations, as the s3 events of serverless.yml do in AWS: an
 * object created under batch/input/ ending in .csv, .jsonl or .ndjson invokes batchScore, one under
 * imports/ ending in .keras, .h5 or .zip invokes modelImport, asynchronously (InvocationType Event)
 * through serverless-offline's Lambda API, with the S3 event as payload.
 */
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { INPUT_PREFIX, INPUT_SUFFIXES } from '../../lib/batch/paths.js';
import { IMPORT_PREFIX, IMPORT_SUFFIXES } from '../../lib/imports/paths.js';
import type { LocalS3 } from './s3.js';

/** {service}-{stage}-{function}, as serverless names it (stage dev, the default). */
export const BATCH_FUNCTION = 'tfjs-serving-dev-batchScore';
export const IMPORT_FUNCTION = 'tfjs-serving-dev-modelImport';

const createdUnder = (record: S3EventRecord, prefix: string, suffixes: readonly string[]) => {
  const key = record.s3?.object?.key ?? '';
  return record.eventName?.startsWith('ObjectCreated:') === true && key.startsWith(prefix) && suffixes.some((s) => key.endsWith(s));
};

/** The same filter as batchScore's s3 event rules in serverless.yml: created, under batch/input/, a scored suffix. */
export function isBatchUpload(record: S3EventRecord): boolean {
  return createdUnder(record, INPUT_PREFIX, INPUT_SUFFIXES);
}

/** The same filter as modelImport's rules: created, under imports/, a model file's suffix. */
export function isImportUpload(record: S3EventRecord): boolean {
  return createdUnder(record, IMPORT_PREFIX, IMPORT_SUFFIXES);
}

/** The function an upload invokes, as serverless.yml's rules route it. */
function functionFor(record: S3EventRecord): string | undefined {
  if (isBatchUpload(record)) return BATCH_FUNCTION;
  if (isImportUpload(record)) return IMPORT_FUNCTION;
  return undefined;
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
  /** Invocations wait for this (events may arrive while serverless offline is still starting). */
  ready?: Promise<unknown>;
  /** Told about each invocation (which function): accepted (HTTP 202), or the error. */
  onInvoke?: (key: string, functionName: string, error?: unknown) => void;
}

/**
 * Subscribes to a local S3's notifications and invokes the function serverless.yml's rules route
 * each upload to, asynchronously, one record per invocation as S3 delivers them.
 * Returns the unsubscribe function.
 */
export function wireUploadEvents(onEvent: LocalS3['onEvent'], options: BatchWiringOptions): () => void {
  let client: Promise<{ send: (functionName: string, payload: S3Event) => Promise<number | undefined> }> | undefined;
  const lambda = () =>
    (client ??= import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => {
      // serverless-offline checks no signature: placeholders, so no credential lookup happens.
      const sdk = new LambdaClient({ endpoint: options.lambdaEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      return {
        send: async (functionName: string, payload: S3Event) => {
          const out = await sdk.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
          return out.StatusCode;
        },
      };
    }));
  return onEvent((event) => {
    for (const record of event.Records ?? []) {
      const functionName = functionFor(record);
      if (!functionName) continue;
      const key = record.s3.object.key;
      void (async () => {
        await options.ready;
        const status = await (await lambda()).send(functionName, asS3Notification(record));
        if (status !== 202) throw new Error(`the Lambda API answered ${status} instead of 202`);
      })().then(
        () => options.onInvoke?.(key, functionName),
        (error: unknown) => options.onInvoke?.(key, functionName, error),
      );
    }
  });
}
