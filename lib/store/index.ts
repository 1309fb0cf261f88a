/** Builds the store named by a URI: s3://bucket/prefix or file://path (relative paths from the cwd). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FolderStore } from './folder.js';
import type { ObjectStore } from './objectStore.js';
import { S3Store, type S3StoreOptions } from './s3.js';

export type { ObjectInfo, ObjectStore } from './objectStore.js';
export {
  ConcatUnsupportedError,
  DamagedRecordError,
  ObjectChangedError,
  ObjectGoneError,
  listAll,
  listPrefixes,
  getJson,
  getJsonVersioned,
  pinnableEtag,
  putNew,
  versionOf,
} from './objectStore.js';

export function openStore(uri: string, s3Options: S3StoreOptions = {}): ObjectStore {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (s3) return new S3Store(s3[1], s3[2], s3Options);
  const folder = storeFolder(uri);
  if (folder !== undefined) return new FolderStore(folder);
  throw new Error(`unsupported store URI ${uri}: use s3://bucket/prefix or file://path`);
}

/** The folder a file:// store URI names (an absolute path), or undefined for another URI. */
export function storeFolder(uri: string): string | undefined {
  if (uri.startsWith('file:///')) return fileURLToPath(uri);
  if (uri.startsWith('file://')) return path.resolve(uri.slice('file://'.length));
  return undefined;
}
