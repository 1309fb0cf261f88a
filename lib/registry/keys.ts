/**
 * The names the registry itself writes in a version folder, beside the model's weight shards: the
 * model's model.json (whose create-only write claims the number), manifest.json (the commit
 * marker, written last) and evaluations/ (saved evaluations). A shard may take none of them
 * (shardPaths.ts), or its write would replace the registry's own.
 */
export const VERSION_OWN_NAMES = { modelJson: 'model.json', manifest: 'manifest.json', evaluations: 'evaluations' } as const;
const { manifest, evaluations } = VERSION_OWN_NAMES;

/** The registry layout (docs/ARCHITECTURE.md), as key builders. Names must be validated before they get here. */
export const keys = {
  versionsPrefix: (model: string) => `${model}/versions/`,
  versionPrefix: (model: string, version: number) => `${model}/versions/${version}/`,
  file: (model: string, version: number, file: string) => `${model}/versions/${version}/${checkedFile(file)}`,
  manifest: (model: string, version: number) => `${model}/versions/${version}/${manifest}`,
  evaluationsPrefix: (model: string, version: number) => `${model}/versions/${version}/${evaluations}/`,
  evaluation: (model: string, version: number, id: string) => `${model}/versions/${version}/${evaluations}/${id}.json`,
  aliasesPrefix: (model: string) => `${model}/aliases/`,
  alias: (model: string, alias: string) => `${model}/aliases/${alias}.json`,
  /** Where the claims of a model's versions lie (fine-tune jobs', imports'): each a manifest, never removed. */
  claimPrefixes: (model: string) => [`${model}/fine-tunes/`, `${model}/imports/`],
  /** The claim of fine-tune job {id}'s version: its manifest, written create-only (ops/fineTune/jobVersion.ts). */
  fineTuneClaim: (model: string, jobId: string) => `${model}/fine-tunes/${jobId}.json`,
  /** The claim of an import's version (lib/imports/run.ts): its manifest, written create-only; `id` names the upload (its key and content). */
  importClaim: (model: string, id: string) => `${model}/imports/${id}.json`,
  job: (id: string) => `_jobs/${id}.json`,
  /** The job id a client's Idempotency-Key named (lib/jobs/idempotency.ts), by the SHA-256 of kind, model and key. */
  jobSubmission: (hash: string) => `_jobs/keys/${hash}.json`,
};

/**
 * Defence in depth: shards are checked with a 400 before any key is made (shardPaths.ts). Only what
 * leaves the version folder is refused here, as the folder store refuses it: versions stored before
 * that check may name a shard ./w.bin, and are still read.
 */
function checkedFile(file: string): string {
  if (file.split('/').includes('..')) throw new Error(`invalid file path in a version: ${JSON.stringify(file)} leaves the version's folder`);
  return file;
}

/** Parses `{n}/manifest.json` relative to a model's versions/ prefix. */
export const COMMITTED_VERSION = /^(\d+)\/manifest\.json$/;
