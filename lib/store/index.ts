/** Builds the store named by a URI: s3://bucket/prefix or file://path (relative paths from the cwd). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FolderStore } from './folder.js';
import type { ObjectStore } from './objectStore.js';
import { S3Store, type S3StoreOptions } from './s3.js';

export type { ObjectInfo, ObjectStore } from './objectStore.js';
export { ConcatUnsupportedError, ObjectChangedError, listAll, listPrefixes, getJson, getJsonVersioned, pinnableEtag } from './objectStore.js';

export function openStore(uri: string, s3Options: S3StoreOptions = {}): ObjectStore {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (s3) return new S3Store(s3[1], s3[2], s3Options);
  if (uri.startsWith('file:///')) return new FolderStore(fileURLToPath(uri));
  if (uri.startsWith('file://')) return new FolderStore(path.resolve(uri.slice('file://'.length)));
  throw new Error(`unsupported store URI ${uri}: use s3://bucket/prefix or file://path`);
}
