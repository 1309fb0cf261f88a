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
    this.upload = store.putStream(key, this.stream, { contentType });
    this.upload.catch((error: unknown) => {
      this.failure = error;
    });
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.stream.write(text)) await Promise.race([once(this.stream, 'drain'), this.upload]);
  }

  async close(): Promise<void> {
    this.stream.end();
    await this.upload;
  }

  /** Stops the upload; a partial object is never made visible (multipart is aborted, temp file removed). */
  abort(error: Error): void {
    this.stream.destroy(error);
  }
}
