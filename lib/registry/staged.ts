/**
 * Versions staged and never committed: a number claimed (its model.json written) and maybe some
 * shards, but no manifest.json. A push cut off midway leaves one; so does, in AWS, a fine-tune
 * attempt that lost its job's claim, since no function may delete under a model's versions. They
 * are invisible and their numbers skipped, but their files are kept, and billed, until an operator
 * removes them (`modelctl prune`, with the operator's own credentials).
 *
 * Removing one is safe only when no writer will commit it: its last file is older than a writer
 * takes between two writes (the caller's `olderThan`), and no claim names it, since whoever finds a
 * claim commits the version it names (claimedVersion.ts): removed, a job delivered again would
 * commit a manifest over missing files.
 */
import { z } from 'zod';
import { getJson, listAll, type ObjectStore } from '../store/index.js';
import { keys, VERSION_OWN_NAMES } from './keys.js';
import { validateName } from './names.js';

export interface StagedVersion {
  model: string;
  version: number;
  /** Relative to the version's folder. */
  files: string[];
  bytes: number;
  /** Of those, what prune removes: all but model.json's (removableFiles). */
  removableBytes: number;
  /** When its newest file was written. */
  lastWrite: Date;
  /** The claim naming it (a fine-tune job's, an import's): its commit is still to come, so it is kept. */
  claimedBy?: string;
}

/** The model's staged versions, ascending: each with its files, size and last write, and the claim naming it if any (a pruned one: its model.json alone). */
export async function stagedVersions(store: ObjectStore, model: string): Promise<StagedVersion[]> {
  validateName(model);
  const prefix = keys.versionsPrefix(model);
  const folders = new Map<number, { files: string[]; bytes: number; removableBytes: number; lastWrite: number; committed: boolean }>();
  for await (const object of listAll(store, prefix)) {
    const [number, ...rest] = object.key.slice(prefix.length).split('/');
    const version = Number(number);
    if (!/^[1-9]\d*$/.test(number) || rest.length === 0) continue;
    const folder = folders.get(version) ?? { files: [], bytes: 0, removableBytes: 0, lastWrite: 0, committed: false };
    const file = rest.join('/');
    folder.committed ||= file === VERSION_OWN_NAMES.manifest;
    folder.files.push(file);
    folder.bytes += object.size;
    if (file !== VERSION_OWN_NAMES.modelJson) folder.removableBytes += object.size;
    // A store that gives no time (none does here) makes the version look new: kept.
    folder.lastWrite = Math.max(folder.lastWrite, object.lastModified?.getTime() ?? Date.now());
    folders.set(version, folder);
  }
  const staged = [...folders].filter(([, folder]) => !folder.committed);
  if (staged.length === 0) return [];
  const claims = await claimsByVersion(store, model);
  return staged
    .sort(([a], [b]) => a - b)
    .map(([version, { files, bytes, removableBytes, lastWrite }]) => ({
      model,
      version,
      files,
      bytes,
      removableBytes,
      lastWrite: new Date(lastWrite),
      claimedBy: claims.get(version),
    }));
}

const claimSchema = z.object({ version: z.number().int().positive() });

/**
 * Version -> the claim naming it. A claim that cannot be read names no version it can be told
 * from: every staged version of the model is then taken as claimed by it, so none is removed.
 */
async function claimsByVersion(store: ObjectStore, model: string): Promise<{ get(version: number): string | undefined }> {
  const named = new Map<number, string>();
  for (const prefix of keys.claimPrefixes(model)) {
    for await (const object of listAll(store, prefix)) {
      if (!object.key.endsWith('.json')) continue;
      const parsed = claimSchema.safeParse(await getJson(store, object.key).catch(() => undefined));
      if (!parsed.success) return { get: () => `${object.key} (unreadable: it may name any version)` };
      named.set(parsed.data.version, object.key);
    }
  }
  return named;
}

/** The files prune may remove: all but model.json, which keeps the number claimed. */
export const removableFiles = (staged: StagedVersion): string[] => staged.files.filter((file) => file !== VERSION_OWN_NAMES.modelJson);

/**
 * Removes a staged version's files but its model.json, which stays as the number's claim: freed, the
 * number could be claimed by a new writer while a second prune, which listed the same version,
 * removed that writer's model.json and its shards of the same names, and the writer committed a
 * version of missing files. Answers false, removing nothing, if it was committed since it was listed.
 */
export async function removeStaged(store: ObjectStore, staged: StagedVersion): Promise<boolean> {
  if (staged.claimedBy !== undefined) throw new Error(`${staged.model} version ${staged.version} is claimed by ${staged.claimedBy}: it is to be committed, not removed`);
  if (await store.head(keys.manifest(staged.model, staged.version))) return false;
  for (const file of removableFiles(staged)) await store.delete(keys.file(staged.model, staged.version, file));
  return true;
}
