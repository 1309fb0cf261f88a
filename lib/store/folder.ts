/**
 * A local folder as an object store (file:// URIs): the demo models, `invoke local`, tests.
 * Writes go to a temporary file first and are renamed (or linked, for create-only) into place,
 * so a reader never sees a half-written object, as on S3. A replace-only write (ifMatch) renames
 * under a lock file (folderLock.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { ConflictError, NotFoundError } from '../errors.js';
import { lockFile } from './folderLock.js';
import { ObjectChangedError, ObjectGoneError } from './objectStore.js';
import type { ConcatOptions, DeleteOptions, GetStreamOptions, ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions } from './objectStore.js';

const TMP_SUFFIX = '.tmp-upload';
/** A temporary file's name: `{file}.{uuid}.tmp-upload` (tempFor). */
const TEMP_NAME = /\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp-upload$/;

/** Size and modification time: what changes when the file is rewritten. */
function etagOf(stat: { size: number; mtimeMs: number }): string {
  return `"${stat.size.toString(16)}-${stat.mtimeMs.toString(16)}"`;
}

let lastStamp = 0;

/**
 * Stamps a file about to be committed with the time to the microsecond, later than any this
 * process stamped before. Linux dates files from a coarse clock (one 4 ms tick here): two writes
 * of the same size within a tick had the same ETag, so a replace-only write (ifMatch) could take
 * the second for the first and undo it.
 */
async function stampDistinct(file: string): Promise<void> {
  lastStamp = Math.max(performance.timeOrigin + performance.now(), lastStamp + 0.001);
  await fs.utimes(file, lastStamp / 1000, lastStamp / 1000);
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

export class FolderStore implements ObjectStore {
  readonly uri: string;

  constructor(private readonly root: string) {
    this.root = path.resolve(root);
    this.uri = pathToFileURL(this.root).href;
  }

  /**
   * A read of a key no file can hold: a folder (`_datasets`), a path through a file in the store
   * (`a.csv/b.csv`), a name longer than the file system takes. On S3 each is a key with no object.
   * A root that is itself a path through a file is a misconfigured store, not a missing object.
   */
  private async isNoObject(error: unknown): Promise<boolean> {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOTDIR') return (await fs.stat(this.root).catch(() => undefined))?.isDirectory() === true;
    return isMissing(error) || code === 'EISDIR' || code === 'ENAMETOOLONG';
  }

  private file(key: string): string {
    // Keys come from validated names, but a store must never escape its root whatever it is given.
    if (key.split('/').some((part) => part === '..') || path.isAbsolute(key)) {
      throw new Error(`invalid object key: ${key}`);
    }
    return path.join(this.root, ...key.split('/'));
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await fs.readFile(this.file(key)));
    } catch (error) {
      if (await this.isNoObject(error)) throw new NotFoundError(`no object ${key}`);
      throw error;
    }
  }

  async getStream(key: string, options: GetStreamOptions = {}): Promise<Readable> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.file(key), 'r');
    } catch (error) {
      if (await this.isNoObject(error)) throw new NotFoundError(`no object ${key}`);
      throw error;
    }
    try {
      // A folder opens for reading; its reads fail (EISDIR) only once the stream is read.
      if (!(await handle.stat()).isFile()) throw new NotFoundError(`no object ${key}`);
      // As S3 answers an empty range: without reading, or checking the version.
      if (options.end !== undefined && options.end <= (options.start ?? 0)) {
        await handle.close();
        return Readable.from([]);
      }
      // The ETag of what this handle reads: a file replaced (a new file renamed into place) after
      // this is another inode, which the handle does not see; one rewritten in place is not detected.
      if (options.ifMatch !== undefined) {
        const etag = etagOf(await handle.stat());
        if (etag !== options.ifMatch) throw new ObjectChangedError(key, this.uri, etag, options.ifMatch);
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    // createReadStream's end is inclusive.
    return handle.createReadStream({ start: options.start, end: options.end === undefined ? undefined : options.end - 1 });
  }

  /** Appends the files into a temporary one, then renames it into place: the target appears whole. */
  async concat(keys: string[], target: string, options: ConcatOptions = {}): Promise<void> {
    const file = this.file(target);
    const temp = this.tempFor(file);
    const out = await this.createIn(temp, () => fs.open(temp, 'w'));
    try {
      // 1 MiB reads: a sharded run's join copies every part here, and 64 KiB reads made it about
      // three times slower (130 MiB of parts: 270 ms against 90-120 ms). One buffer for them all:
      // a new one per read made the join's process collect its whole heap a dozen times a run.
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (const [index, key] of keys.entries()) {
        await options.ready?.(index);
        await appendFile(out, this.file(key), buffer);
      }
      await out.close();
      await stampDistinct(temp);
      await fs.rename(temp, file);
    } catch (error) {
      await out.close().catch(() => undefined);
      await fs.rm(temp, { force: true });
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const stat = await fs.stat(this.file(key));
      if (!stat.isFile()) return undefined;
      return { key, size: stat.size, lastModified: stat.mtime, etag: etagOf(stat) };
    } catch (error) {
      if (await this.isNoObject(error)) return undefined;
      throw error;
    }
  }

  private tempFor(target: string): string {
    return `${target}.${randomUUID()}${TMP_SUFFIX}`;
  }

  /**
   * Makes the file's folder and creates the file with `create`. A delete prunes the folders it
   * empties, so one may remove this folder between the mkdir and the create (or during the mkdir):
   * then both are tried again, a few times, as the race needs a delete of the folder's last object
   * at that very moment.
   */
  private async createIn<T>(file: string, create: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await fs.mkdir(path.dirname(file), { recursive: true });
        return await create();
      } catch (error) {
        if (!isMissing(error) || attempt === 5) throw error;
      }
    }
  }

  private async commit(temp: string, target: string, exclusive: boolean): Promise<void> {
    await stampDistinct(temp);
    try {
      // link() fails with EEXIST when the target exists: an atomic create-only, like If-None-Match.
      if (exclusive) await fs.link(temp, target);
      else await fs.rename(temp, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new ConflictError(`object ${path.relative(this.root, target)} already exists`);
      }
      throw error;
    } finally {
      if (exclusive) await fs.rm(temp, { force: true });
    }
  }

  /** Renames temp onto target if target still has ETag `etag`, the check and the rename under target's lock. */
  private async replace(key: string, temp: string, target: string, etag: string): Promise<void> {
    await stampDistinct(temp);
    const unlock = await lockFile(`${target}.lock${TMP_SUFFIX}`, key).catch((error: unknown) => {
      // No folder: no object to replace.
      if (isMissing(error)) throw new ObjectChangedError(key, this.uri, undefined, etag);
      throw error;
    });
    try {
      // A replace-only write of an object deleted meanwhile is refused too.
      if ((await this.checkEtag(key, target, etag)) === undefined) throw new ObjectChangedError(key, this.uri, undefined, etag);
      await fs.rename(temp, target);
    } finally {
      await unlock();
    }
  }

  async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<void> {
    const target = this.file(key);
    const temp = this.tempFor(target);
    try {
      await this.createIn(temp, () => fs.writeFile(temp, body));
      if (options.ifMatch === undefined) await this.commit(temp, target, options.ifNoneMatch === true);
      else await this.replace(key, temp, target, options.ifMatch);
    } catch (error) {
      await fs.rm(temp, { force: true });
      // A replace of an object deleted meanwhile: its temporary file and lock were all the folder held.
      if (options.ifMatch !== undefined) await this.pruneFrom(path.dirname(target));
      throw error;
    }
  }

  async putStream(key: string, body: Readable): Promise<void> {
    const target = this.file(key);
    const temp = this.tempFor(target);
    try {
      const handle = await this.createIn(temp, () => fs.open(temp, 'w'));
      await pipeline(body, handle.createWriteStream());
      await this.commit(temp, target, false);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * Removes the object, then the folders it leaves empty (up to the root): on S3 a "folder" is only
   * a prefix of the keys that exist, so a successful `modelctl batch` left an empty
   * `{name}.parts/` here that it never leaves in a bucket.
   */
  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    const file = this.file(key);
    try {
      if (options.ifMatch === undefined) await fs.rm(file, { force: true });
      else await this.removeIfMatch(key, file, options.ifMatch);
    } finally {
      // A refused delete's lock file was all it added to the folder.
      await this.pruneFrom(path.dirname(file));
    }
  }

  /** Removes the file under the lock a replace-only write takes, if it still has `etag` (ObjectGoneError: no file). */
  private async removeIfMatch(key: string, file: string, etag: string): Promise<void> {
    const unlock = await lockFile(`${file}.lock${TMP_SUFFIX}`, key).catch((error: unknown) => {
      if (isMissing(error)) throw new ObjectGoneError(key, this.uri, undefined, etag); // no folder: no file
      throw error;
    });
    try {
      if ((await this.checkEtag(key, file, etag)) === undefined) throw new ObjectGoneError(key, this.uri, undefined, etag);
      await fs.rm(file);
    } finally {
      await unlock();
    }
  }

  /** ObjectChangedError if the file (held under its lock) has another ETag than `etag`; undefined when there is no file. */
  private async checkEtag(key: string, file: string, etag: string): Promise<string | undefined> {
    const stat = await fs.stat(file).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    const found = stat === undefined ? undefined : etagOf(stat);
    if (found !== undefined && found !== etag) throw new ObjectChangedError(key, this.uri, found, etag);
    return found;
  }

  /** Removes `dir` and the folders above it while they are empty (up to the root). */
  private async pruneFrom(dir: string): Promise<void> {
    for (let at = dir; at.startsWith(`${this.root}${path.sep}`); at = path.dirname(at)) {
      try {
        await fs.rmdir(at);
      } catch {
        return; // not empty (or already gone): the folders above it are not empty either
      }
    }
  }

  /** The temporary files of writes of `key` that never finished (`{file}.{uuid}.tmp-upload`), then the folders that leaves empty. */
  async abandonWrites(key: string): Promise<void> {
    const file = this.file(key);
    const name = path.basename(file);
    let entries: string[];
    try {
      entries = await fs.readdir(path.dirname(file));
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const temps = entries.filter((entry) => entry.startsWith(`${name}.`) && entry.endsWith(TMP_SUFFIX) && entry.length === name.length + 1 + 36 + TMP_SUFFIX.length);
    await Promise.all(temps.map((entry) => fs.rm(path.join(path.dirname(file), entry), { force: true })));
    await this.pruneFrom(path.dirname(file));
  }

  /**
   * The temporary files of unfinished writes of any key under `prefix` (a run killed mid-write
   * leaves them, and its keys may not be those the next run writes), then the folders that leaves
   * empty. For the one process that owns the prefix, once none of its writes runs.
   */
  async abandonWritesUnder(prefix: string): Promise<void> {
    const temps = (await this.keysUnder(prefix, true)).filter((key) => TEMP_NAME.test(key));
    await Promise.all(temps.map((key) => fs.rm(this.file(key), { force: true })));
    const folders = new Set(temps.map((key) => path.dirname(this.file(key))));
    for (const folder of folders) await this.pruneFrom(folder);
  }

  /** Every file under the root whose key starts with prefix, in S3's (byte) order; temporary files only when asked. */
  private async keysUnder(prefix: string, temporaries = false): Promise<string[]> {
    // Walk only the deepest folder the prefix names, not the whole store.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
    const out: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(rel ? this.file(rel) : this.root, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw error;
      }
      for (const entry of entries) {
        const key = `${rel}${entry.name}`;
        if (entry.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(`${key}/`);
        } else if (entry.isFile() && key.startsWith(prefix) && (temporaries || !key.endsWith(TMP_SUFFIX))) {
          out.push(key);
        }
      }
    };
    await walk(folder);
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const pageSize = options.pageSize ?? 1000;
    const keys = (await this.keysUnder(prefix)).filter((key) => options.token === undefined || key > options.token);
    const objects: ObjectInfo[] = [];
    const prefixes: string[] = [];
    let last: string | undefined;
    const { delimiter } = options;
    for (const key of keys) {
      const rest = key.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      const common = delimiter && cut >= 0 ? prefix + rest.slice(0, cut + delimiter.length) : undefined;
      if (common !== undefined && prefixes[prefixes.length - 1] === common) {
        last = key; // still inside the folder already reported
        continue;
      }
      if (objects.length + prefixes.length >= pageSize) return { objects, prefixes, nextToken: last };
      if (common !== undefined) {
        prefixes.push(common);
      } else {
        const info = await this.head(key);
        if (info) objects.push(info);
      }
      last = key;
    }
    return { objects, prefixes };
  }
}

/** Copies the file at `from` to the end of what `out` has written, through `buffer`. */
async function appendFile(out: fs.FileHandle, from: string, buffer: Buffer): Promise<void> {
  const source = await fs.open(from, 'r');
  try {
    for (;;) {
      const { bytesRead } = await source.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      await out.write(buffer, 0, bytesRead);
    }
  } finally {
    await source.close();
  }
}
