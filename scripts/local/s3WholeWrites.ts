/**
 * s3rver 3.7.1 writes an object (and an uploaded part) in place, and answers before the file is
 * written: for a body it holds whole it resolves as soon as the write starts. A GET during an
 * overwrite, or right after the 200, read a file cut short ("Unexpected end of JSON input" from a
 * batch run's state read while a range rewrote it), and a GET stats the file, reads its ETag and
 * opens it one step at a time, so it could announce one version's length and send another's bytes
 * (the client's "aborted"). S3 shows a PUT whole or not at all. Here each body goes to a temporary
 * file beside the object (its name is not an object's, so listings skip it), written to the end;
 * then, one key at a time, it is renamed over the object with its ETag, while a GET or HEAD of
 * that key waits: a reader gets the old version or the new, and an open file keeps its bytes.
 * Size and MD5 (the ETag) are counted as s3rver counts them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface Written {
  size: number;
  md5: string;
}
interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: unknown;
}
/** What this uses of s3rver's FilesystemStore. */
interface StoreLike {
  getMetadata(bucket: string, key: string): Promise<unknown>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: StoredObject): Promise<Written>;
  putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<Written>;
}

/** Runs `work` once every earlier call for the same key has finished. */
function oneAtATime(): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const last = new Map<string, Promise<unknown>>();
  return (key, work) => {
    const run = (last.get(key) ?? Promise.resolve()).catch(() => undefined).then(work);
    last.set(key, run);
    const forget = () => {
      if (last.get(key) === run) last.delete(key);
    };
    run.then(forget, forget);
    return run;
  };
}

/** Writes the body to a temporary file and hands it to `commit` (which renames it) once whole. */
async function writeWhole(file: string, content: Buffer | Readable, commit: (temporary: string, written: Written) => Promise<void>): Promise<Written> {
  await mkdir(path.dirname(file), { recursive: true });
  const hash = createHash('md5');
  let size = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const temporary = `${file}.${randomUUID()}.partial`;
  try {
    await pipeline(Buffer.isBuffer(content) ? Readable.from([content]) : content, counted, createWriteStream(temporary));
    const written = { size, md5: hash.digest('hex') };
    await commit(temporary, written);
    return written;
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export function fixWholeWrites(store: StoreLike): void {
  const perKey = oneAtATime();
  const { getMetadata, getObject } = store;
  // s3rver's getObject reads the metadata through `this`: the original, so that it does not wait for itself.
  const unlocked = Object.assign(Object.create(store), { getMetadata });
  store.getMetadata = (bucket, key) => perKey(`${bucket}/${key}`, () => getMetadata.call(store, bucket, key));
  store.getObject = (bucket, key, options) => perKey(`${bucket}/${key}`, () => getObject.call(unlocked, bucket, key, options));
  store.putObject = (object) => {
    const file = store.getResourcePath(object.bucket, object.key, 'object');
    return writeWhole(file, object.content, (temporary, written) =>
      perKey(`${object.bucket}/${object.key}`, async () => {
        await rename(temporary, file);
        await store.putMetadata(object.bucket, object.key, object.metadata, written.md5);
      }),
    );
  };
  store.putPart = (bucket, uploadId, partNumber, content) => {
    const file = path.join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(partNumber));
    return writeWhole(file, content, async (temporary, written) => {
      await rename(temporary, file);
      await writeFile(`${file}.md5`, written.md5);
    });
  };
}
