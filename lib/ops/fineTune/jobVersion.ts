/**
 * The one version of a fine-tune job. Two attempts of one job may both train to the end (one taken
 * over without learning it: its store could not reach the job record) and write their versions at
 * the same moment; each looking for the other's just before writing, both wrote one. So the job's
 * version is decided by a claim, a create-only write at a key of the job's own
 * ({model}/fine-tunes/{jobId}.json): each attempt stages its version (its number claimed, its files
 * written whole, no manifest: it does not exist yet), then writes the manifest that would commit
 * it there. Of two such writes one lands: that attempt's version is the job's, and the other
 * attempt removes the version it staged and answers with the job's.
 *
 * Whoever finds the claim commits the manifest it holds (createVersion.ts commitVersion: create-only,
 * the same bytes whoever writes them): the attempt that wrote it, a redelivery of the job, or the
 * attempt that took the job over from one that died between its claim and its commit. The staged
 * files were whole before the claim was written, so the job's version is never left half-written
 * nor stuck uncommitted.
 */
import { NotFoundError } from '../../errors.js';
import type { ModelFiles } from '../../registry/artifacts.js';
import { claimedVersion, commitClaimed, keys, listVersions, readManifest, stageVersion, type Manifest, type ManifestFields } from '../../registry/index.js';
import type { ObjectStore } from '../../store/index.js';

/**
 * The job's version, committed by now, or undefined while no attempt has claimed one. A job whose
 * version an earlier release wrote (no claim: it looked for the version by its manifest) is found
 * the way that release found it, among the versions after its base (`parent`), so that a job
 * delivered again across a deploy is not trained a second time.
 */
export async function versionOfJob(store: ObjectStore, model: string, jobId: string, parent: number): Promise<Manifest | undefined> {
  try {
    // Its writer may have died before committing it (or be committing it now: the same bytes).
    return await claimedVersion(store, keys.fineTuneClaim(model, jobId));
  } catch (error) {
    if (error instanceof NotFoundError) return writtenUnclaimed(store, model, jobId, parent);
    throw error;
  }
}

/** A version after `parent` whose manifest names the job, written before versions were claimed. */
async function writtenUnclaimed(store: ObjectStore, model: string, jobId: string, parent: number): Promise<Manifest | undefined> {
  for (const version of (await listVersions(store, model)).filter((v) => v > parent).reverse()) {
    const manifest = await readManifest(store, model, version);
    if (manifest.lineage.jobId === jobId) return manifest;
  }
  return undefined;
}

/**
 * The job's version: this attempt's (`files`, `fields`; `mine`) when its claim lands first, else
 * the one another attempt claimed, this attempt's staged files removed.
 */
export async function writeVersionOfJob(
  store: ObjectStore,
  model: string,
  jobId: string,
  files: ModelFiles,
  fields: ManifestFields & { lineage: { parent: number } },
): Promise<{ manifest: Manifest; mine: boolean }> {
  return commitClaimed(store, await stageVersion(store, model, files, fields), keys.fineTuneClaim(model, jobId));
}
