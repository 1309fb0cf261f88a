/**
 * A real S3 protocol server (s3rver) for integration tests: one per suite, on a random port,
 * with its own temp directory. Returns an S3Store wired to it the way production builds one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import { fixDelimitedListing } from './s3rverListFix.js';
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
  const directory = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET }],
  });
  fixDelimitedListing(server.store);
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const s3Options: S3StoreOptions = {
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    // s3rver only accepts this key pair.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  const uri = `s3://${BUCKET}/`;
  return {
    endpoint,
    bucket: BUCKET,
    uri,
    store: openStore(uri, s3Options),
    s3Options,
    onEvent(listener) {
      const handler = (event: unknown) => listener(event as S3Event);
      server.on('event', handler);
      return () => void server.off('event', handler);
    },
    async stop() {
      // The SDK keeps sockets alive; drop them so close() does not wait for their idle timeout.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
