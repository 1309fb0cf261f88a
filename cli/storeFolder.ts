/**
 * A folder store that is not there. A folder store reads as empty when its folder is missing (as a
 * bucket prefix with no objects does), so a mistyped --store or MODEL_STORE_URI listed "(none)"
 * and showed "no model named ...": it is named here, before the command runs, as the user's
 * mistake (exit 2). push makes a new store's folder, but only inside a folder that exists, so a
 * path mistyped further up is refused there too.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { storeFolder } from '../lib/store/index.js';
import { UsageError } from './errors.js';

/** named: how the user gave the store, e.g. "--store /data/models" or "MODEL_STORE_URI file:///data/models". */
export async function checkStoreFolder(uri: string, named: string, creating: boolean): Promise<void> {
  const folder = storeFolder(uri);
  if (folder === undefined) return; // s3://: the store answers for its bucket
  const found = await stat(folder).catch(() => undefined);
  if (found?.isDirectory()) return;
  if (found) throw new UsageError(`${named}: ${folder} is a file, not a store folder`);
  if (!creating) throw new UsageError(`${named}: no folder ${folder}`);
  const parent = await stat(path.dirname(folder)).catch(() => undefined);
  if (!parent?.isDirectory()) throw new UsageError(`${named}: no folder ${path.dirname(folder)} to make the store ${path.basename(folder)} in`);
}
