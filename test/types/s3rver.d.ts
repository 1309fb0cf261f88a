// s3rver 3.7.1 ships no types: only what the test helpers use.
declare module 's3rver' {
  import type { AddressInfo } from 'node:net';
  import type { Server } from 'node:http';

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
    /** The filesystem store behind the server (patched by test/helpers/s3rverListFix.ts). */
    readonly store: { listObjects(bucket: string, options: object): Promise<any> };
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
