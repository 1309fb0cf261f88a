// s3rver 3.7.1 ships no types: only what the test helpers use.
declare module 's3rver' {
  import type { AddressInfo } from 'node:net';
  import type { Server } from 'node:http';
  import type { Readable } from 'node:stream';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>;
  }

  class S3rver {
    constructor(options?: S3rverOptions);
    readonly httpServer?: Server;
    /** The filesystem store behind the server (patched by scripts/local/s3ListFix.ts and s3WholeWrites.ts). */
    readonly store: {
      listObjects(bucket: string, options: object): Promise<any>;
      getResourcePath(bucket: string, key: string | undefined, resource: string): string;
      getMetadata(bucket: string, key: string): Promise<unknown>;
      getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
      putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
      putObject(object: { bucket: string; key: string; content: Buffer | Readable; metadata: unknown }): Promise<{ size: number; md5: string }>;
      putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<{ size: number; md5: string }>;
    };
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    reset(): void;
    /** 'event' carries one S3 notification ({ Records: [...] }) per put/post/copy/delete. */
    on(event: 'event', listener: (event: unknown) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    off(event: string, listener: (...args: never[]) => void): this;
  }

  export = S3rver;
}
