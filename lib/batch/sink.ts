/**
 * An output object written as a stream: text goes into a PassThrough that the store uploads
 * (multipart on S3) as it fills. write() waits while the upload is behind, so memory stays
 * bounded however large the output grows.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ObjectStore } from '../store/index.js';

export class ObjectSink {
  private readonly stream = new PassThrough();
  private readonly upload: Promise<void>;
  private failure?: unknown;

  constructor(store: ObjectStore, key: string, contentType: string) {
    // A store starts reading the stream only after its own setup (a temp file, the S3 client), and
    // an abort can come first: without a listener of our own, that 'error' would be uncaught and
    // end the process. The store still sees the error when it reads, and cleans up.
    this.stream.on('error', () => undefined);
    this.upload = store.putStream(key, this.stream, { contentType });
    this.upload.catch((error: unknown) => {
      this.failure = error;
    });
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.stream.write(text)) return;
    try {
      await Promise.race([once(this.stream, 'drain'), this.upload]);
    } catch (error) {
      // A failed upload stops reading the stream, which is then destroyed with a bare AbortError
      // that 'drain' may see first: the upload's own failure (a store's SlowDown) is the one to tell.
      await this.upload.catch(() => undefined);
      throw this.failure ?? error;
    }
  }

  async close(): Promise<void> {
    this.stream.end();
    await this.upload;
  }

  /**
   * Stops the upload and waits until the store has cleaned up: a partial object is never made
   * visible (multipart is aborted, temp file removed) and nothing is left behind.
   */
  async abort(error: Error): Promise<void> {
    this.stream.destroy(error);
    await this.upload.catch(() => undefined);
  }
}
