/** The registry layout (docs/ARCHITECTURE.md), as key builders. Names must be validated before they get here. */
export const keys = {
  versionsPrefix: (model: string) => `${model}/versions/`,
  versionPrefix: (model: string, version: number) => `${model}/versions/${version}/`,
  file: (model: string, version: number, file: string) => `${model}/versions/${version}/${file}`,
  manifest: (model: string, version: number) => `${model}/versions/${version}/manifest.json`,
  evaluationsPrefix: (model: string, version: number) => `${model}/versions/${version}/evaluations/`,
  evaluation: (model: string, version: number, id: string) => `${model}/versions/${version}/evaluations/${id}.json`,
  aliasesPrefix: (model: string) => `${model}/aliases/`,
  alias: (model: string, alias: string) => `${model}/aliases/${alias}.json`,
  /** The claim of fine-tune job {id}'s version: its manifest, written create-only (ops/fineTune/jobVersion.ts). */
  fineTuneClaim: (model: string, jobId: string) => `${model}/fine-tunes/${jobId}.json`,
  job: (id: string) => `_jobs/${id}.json`,
};

/** Parses `{n}/manifest.json` relative to a model's versions/ prefix. */
export const COMMITTED_VERSION = /^(\d+)\/manifest\.json$/;
