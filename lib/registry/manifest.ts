/**
 * manifest.json: everything a version is, besides its weights. It is written last: a version
 * whose manifest is missing does not exist. Validated on read, so a hand-edited store fails loudly.
 */
import { z } from 'zod';
import { IntegrityError } from '../errors.js';
import { inputSettingsSchema, kindOf } from '../inputs/kinds.js';
import { NARROW_INTEGERS } from '../tensors/valueRanges.js';

const DTYPES = ['float32', 'int32', 'bool', 'string'] as const;

const tensorSpec = z.object({
  name: z.string(),
  dtype: z.enum(DTYPES),
  /**
   * -1 marks a variable dimension (the batch, usually), as in OIP v2 metadata; null an unknown rank
   * (any shape), as a TF signature's `unknownRank` says: not [], which is a scalar's shape.
   */
  shape: z.array(z.number().int().min(-1)).nullable(),
  /**
   * The narrower integer type the model's signature declares where TF.js holds int32 (handtrack's
   * image input is uint8): metadata shows it, and values outside its range are refused, as TF
   * Serving refuses them, rather than run as numbers the model never takes.
   */
  declaredDtype: z.enum(NARROW_INTEGERS).optional(),
  /**
   * A graph output named by its signature key (gender_output): the node that computes it
   * (Identity_1), what TF.js calls it and versions pushed before answered by (runtime/signatureKeys.ts).
   */
  node: z.string().optional(),
});

const signatureSchema = z.object({
  inputs: z.array(tensorSpec).min(1),
  outputs: z.array(tensorSpec).min(1),
});

export const TASKS = ['classification', 'binary', 'regression'] as const;

/**
 * What a classifier's output units hold: probabilities (a softmax or sigmoid head), log-probabilities
 * (log_softmax) or logits (no activation: a model trained with from_logits=True). Answers and
 * metrics read the probabilities they stand for (protocol/probabilities.ts); raw outputs stay as
 * the model gives them.
 */
export const SCORE_KINDS = ['probabilities', 'log-probabilities', 'logits'] as const;

/** How natural inputs become the model's input (`input`: the settings of an input kind, lib/inputs). */
const transformsSchema = z.object({
  input: inputSettingsSchema.optional(),
});

export const manifestSchema = z.object({
  name: z.string(),
  version: z.number().int().positive(),
  format: z.enum(['layers', 'graph']),
  /**
   * The TF.js backend the version was made on: where its push ran the trial example, or its
   * fine-tune trained. A function on another backend runs that example once when it loads the
   * version (loader/otherBackend.ts). Absent in versions made before it was recorded.
   */
  backend: z.enum(['node', 'wasm', 'cpu']).optional(),
  task: z.enum(TASKS),
  description: z.string().optional(),
  /**
   * The output that answers, labels, task and scores read, when the model has several (`--output`):
   * first in `signature.outputs`, whatever the model's own order (the loader gives the model's
   * outputs in the signature's order: runtime/tfModel.ts useOutputOrder). Absent: the model's first.
   */
  answerOutput: z.string().optional(),
  signature: signatureSchema,
  /** A classifier's: what its output units hold (absent: probabilities, as versions pushed before it was recorded). */
  scores: z.enum(SCORE_KINDS).optional(),
  /** Class names, index-aligned with the output units (binary: [negative, positive]). */
  labels: z.array(z.string()).optional(),
  transforms: transformsSchema.default({}),
  /** A small sample of model inputs (flattened rows) used as the explanation background. */
  background: z.array(z.array(z.number())).optional(),
  /** sha256 (hex) of every file of the version, by path relative to the version folder. */
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  lineage: z
    .object({
      parent: z.number().int().positive().nullable().default(null),
      source: z.string().optional(),
      jobId: z.string().optional(),
      dataSha256: z.string().optional(),
      /** Imported from a file: its format, the Keras version that wrote it (Keras files), its sha256. */
      sourceFormat: z.enum(['keras', 'h5', 'tfjs-zip']).optional(),
      kerasVersion: z.string().optional(),
      sourceSha256: z.string().optional(),
    })
    .default({ parent: null }),
  /** Held-out test metrics, by name. */
  metrics: z.record(z.string(), z.number()).default({}),
  training: z.unknown().optional(),
  createdAt: z.string(),
});

export type TensorSpec = z.infer<typeof tensorSpec>;
export type Signature = z.infer<typeof signatureSchema>;
export type Task = (typeof TASKS)[number];
export type ScoreKind = (typeof SCORE_KINDS)[number];
export type Manifest = z.infer<typeof manifestSchema>;
/** What a caller supplies when creating a version; the registry fills in the rest. */
export type ManifestFields = Omit<z.input<typeof manifestSchema>, 'name' | 'version' | 'files' | 'createdAt' | 'format' | 'signature'> & Partial<Pick<Manifest, 'signature'>>;

/**
 * The row the natural input's settings fix (an image's [height, width, channels], as its kind
 * feeds the model), which the trial example (runtime/trialRun.ts) takes where the model leaves its size open. Settings
 * that do not parse are refused later, with the manifest.
 */
export function naturalRow(fields: Partial<ManifestFields>): number[] | undefined {
  const settings = inputSettingsSchema.safeParse(fields.transforms?.input);
  return settings.success ? kindOf(settings.data).rowShape(settings.data) : undefined;
}

/**
 * A layers model's output names, made distinct as Keras makes them: a layer that gives two outputs
 * (one layer applied twice) names the second `head_1`, the third `head_2`. Named alike, two outputs
 * were answered under one JSON key, and only the first could be asked for (--output, infer).
 */
export function distinctNames(names: string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    let unique = name;
    for (let n = 1; taken.has(unique); n += 1) unique = `${name}_${n}`;
    taken.add(unique);
    return unique;
  });
}

/**
 * Which of `outputs` a client's or a push's name means: the output of that name (a graph's
 * signature key) before the one computed by a node of that name (what versions pushed before were
 * named by); a tensor's name (`node:0`, as model.json's signature gives it) means its node first.
 * A key may be another output's node (key Identity on node Identity_1): the exact name wins. -1: none.
 */
export function outputIndexNamed(outputs: TensorSpec[], name: string): number {
  const node = name.replace(/:0$/, '');
  const tests: ((o: TensorSpec) => boolean)[] =
    node === name ? [(o) => o.name === name, (o) => o.node === name] : [(o) => o.name === name, (o) => (o.node ?? o.name) === node, (o) => o.name === node];
  for (const test of tests) {
    const at = outputs.findIndex(test);
    if (at >= 0) return at;
  }
  return -1;
}

/** What a client reads about a version whose stored manifest is not one (a hand edit, a bad copy). */
export const DAMAGED_MANIFEST = 'the model version is damaged in the store (its manifest.json is not a valid manifest): push it again, or move the alias to another version';

/**
 * A stored manifest, checked. One that is not valid is damage, not an outage: a 500 saying so,
 * without Retry-After (a retry reads the same bytes); the file and what is wrong go to the log.
 */
export function parseManifest(raw: unknown, where: string): Manifest {
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new IntegrityError(`invalid manifest ${where}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, {
      publicMessage: DAMAGED_MANIFEST,
    });
  }
  return parsed.data;
}
