/**
 * One version for one piece of work however many attempts at it run at once (a fine-tune job
 * delivered twice, an upload whose S3 event arrives twice): each attempt stages its version (number
 * claimed, files written whole, no manifest), then writes the manifest that would commit it, create-
 * only, at a key of the work's own (the claim). Of two such writes one lands: that attempt commits
 * its version; the other commits the claimed manifest (its writer may have died before committing
 * it: the same bytes, whoever writes them) and removes what it staged, where the store lets it (in
 * AWS no function may delete under a model's versions: there the staged files stay, invisible, and
 * the number is skipped).
 */
import { ConflictError, NotFoundError } from '../errors.js';
import { getJson, type ObjectStore } from '../store/index.js';
import type { ModelFiles } from './artifacts.js';
import { commitVersion, discardStaged, stageVersion, type CreateVersionOptions } from './createVersion.js';
import { parseManifest, type Manifest, type ManifestFields } from './manifest.js';

/** The manifest claimed at `claimKey`, committed by now; NotFoundError while no attempt has claimed one. */
export async function claimedVersion(store: ObjectStore, claimKey: string): Promise<Manifest> {
  const manifest = parseManifest(await getJson(store, claimKey), `${store.uri}${claimKey}`);
  await commitVersion(store, manifest);
  return manifest;
}

/** Commits `staged` if its claim lands first; else answers the claimed version (`mine`: this very claim, landed before a refused retry). */
export async function commitClaimed(store: ObjectStore, staged: Manifest, claimKey: string): Promise<{ manifest: Manifest; mine: boolean }> {
  try {
    await store.put(claimKey, JSON.stringify(staged), { ifNoneMatch: true, contentType: 'application/json' });
  } catch (error) {
    // Any other error may have landed the claim all the same: the staged files stay (invisible).
    if (!(error instanceof ConflictError)) throw error;
    const claimed = await claimedVersion(store, claimKey).catch((readError: unknown) => {
      throw readError instanceof NotFoundError ? error : readError; // a claim is never removed: the store lost it
    });
    const mine = claimed.version === staged.version;
    if (!mine) await discardStaged(store, staged).catch(() => undefined);
    return { manifest: claimed, mine };
  }
  await commitVersion(store, staged);
  return { manifest: staged, mine: true };
}

/** createVersion for one piece of work: the version claimed at `claimKey`, this call's or an earlier attempt's. */
export async function createClaimedVersion(
  store: ObjectStore,
  model: string,
  files: ModelFiles,
  fields: ManifestFields,
  claimKey: string,
  options: CreateVersionOptions = {},
): Promise<Manifest> {
  const { manifest } = await commitClaimed(store, await stageVersion(store, model, files, fields, options), claimKey);
  options.onProgress?.(Object.keys(manifest.files).length + 1, Object.keys(manifest.files).length + 1);
  return manifest;
}
