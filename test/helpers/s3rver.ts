/**
 * A real S3 protocol server (s3rver) for integration tests: one per suite, on a random port,
 * with its own temp directory. Returns an S3Store wired to it the way production builds one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { S3Event } from 'aws-lambda';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../../scripts/local/s3.js';
import { openStore, type ObjectStore } from '../../lib/store/index.js';
import type { S3StoreOptions } from '../../lib/store/s3.js';

export interface S3rverHandle {
  endpoint: string;
  bucket: string;
  /** s3://bucket/ (the store's root is the whole bucket). */
  uri: string;
  store: ObjectStore;
  /** Options to build more stores/clients against the same server (e.g. behind a proxy). */
  s3Options: S3StoreOptions;
  /** S3 notifications s3rver emits on put, multipart completion (ObjectCreated:Post), copy, delete. */
  onEvent(listener: (event: S3Event) => void): () => void;
  stop(): Promise<void>;
}

const BUCKET = 'test-bucket';

export async function startS3rver(): Promise<S3rverHandle> {
  // The same server `npm start` runs (scripts/local/s3.ts), on a free port and a throwaway folder.
  const directory = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const server = await startLocalS3({ directory, port: 0, bucket: BUCKET });
  const s3Options: S3StoreOptions = {
    endpoint: server.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: LOCAL_S3_CREDENTIALS, // s3rver only accepts this key pair
  };
  const uri = `s3://${BUCKET}/`;
  return {
    endpoint: server.endpoint,
    bucket: BUCKET,
    uri,
    store: openStore(uri, s3Options),
    s3Options,
    onEvent: server.onEvent,
    async stop() {
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
