/**
 * The local S3 of `npm start` and of the tests: s3rver (the real S3 protocol on 127.0.0.1) serving
 * one bucket from a folder, with fixes that make its delimited listings and its writes behave like
 * AWS's (a PUT seen whole or not at all).
 *
 * s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node's OpenSSL 3 offers only
 * with --openssl-legacy-provider (`npm start` and the tests pass it): without it, listings of more
 * than 1000 keys fail. Everything else works.
 */
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import { fixDelimitedListing } from './s3ListFix.js';
import { fixWholeWrites } from './s3WholeWrites.js';

const LOCAL_BUCKET = 'local-bucket';
export const DEFAULT_LOCAL_S3_PORT = 4569;
/** s3rver's only key pair. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  directory: string;
  /** The S3 notifications s3rver emits for every put, multipart completion, copy and delete. */
  onEvent(listener: (event: S3Event) => void): () => void;
  stop(): Promise<void>;
}

/** A port taken by another process, said in one line (s3rver throws EADDRINUSE from its server's 'error' event, with a stack). */
export class PortInUseError extends Error {}

async function checkPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(`the local S3's port ${port} is in use (another npm start?): set LOCAL_S3_PORT to a free port`) : error),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** s3rver serving one bucket from `directory` (kept between runs). Port 0 picks a free port. */
export async function startLocalS3(options: { directory: string; port?: number; bucket?: string }): Promise<LocalS3> {
  const bucket = options.bucket ?? LOCAL_BUCKET;
  const wanted = options.port ?? DEFAULT_LOCAL_S3_PORT;
  if (wanted !== 0) await checkPortFree(wanted);
  await mkdir(options.directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: wanted,
    silent: true,
    directory: options.directory,
    configureBuckets: [{ name: bucket }],
  });
  // s3rver drops common prefixes more than one level down (aws s3 ls s3://local-bucket/batch/ would show nothing).
  fixDelimitedListing(server.store);
  // s3rver writes objects in place: a GET during an overwrite read a file cut short.
  fixWholeWrites(server.store);
  const { port } = await server.run();
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    directory: options.directory,
    onEvent(listener) {
      const handler = (event: unknown) => listener(event as S3Event);
      server.on('event', handler);
      return () => void server.off('event', handler);
    },
    // Idempotent: a test may stop the store mid-way (to see what serving does without it) and again at the end.
    async stop() {
      if (stopped) return;
      stopped = true;
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
}

/**
 * The environment that points batchScore under serverless offline at the local bucket (see the top
 * of this file for why these variables). The model store is left alone.
 */
export function localBatchEnv(s3: Pick<LocalS3, 'endpoint' | 'bucket'>): Record<string, string> {
  return {
    BATCH_STORE_URI: `s3://${s3.bucket}/`,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  };
}
