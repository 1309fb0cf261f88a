/**
 * Where batch scoring reads and writes. Inputs are uploaded under batch/input/{model}[@alias|:version]/
 * and every output goes under batch/output/ with the same path, so no output can ever match the
 * trigger (S3 -> Lambda recursion). Checked when this module loads.
 */
import { randomUUID } from 'node:crypto';
import { BadRequestError } from '../errors.js';
import { parseModelRef, type ModelRef } from '../registry/index.js';

export const INPUT_PREFIX = 'batch/input/';
export const OUTPUT_PREFIX = 'batch/output/';
export const INPUT_SUFFIXES = ['.csv', '.jsonl', '.ndjson'] as const;

if (OUTPUT_PREFIX.startsWith(INPUT_PREFIX) || INPUT_PREFIX.startsWith(OUTPUT_PREFIX)) {
  throw new Error(`batch output prefix ${OUTPUT_PREFIX} overlaps the trigger prefix ${INPUT_PREFIX}: scoring would trigger itself`);
}

type BatchFormat = 'csv' | 'jsonl';

export interface BatchInput {
  key: string;
  ref: ModelRef;
  format: BatchFormat;
  /** The path below batch/input/, reused below batch/output/. */
  relative: string;
}

export interface BatchOutputs {
  predictions: string;
  errors: string;
  manifest: string;
  /** Where the sharded runs keep their parts, a folder per version of the source (shardOutputsFor); nothing else is there. */
  shardsPrefix: string;
  /** Where the runs through one function keep what they write before the outputs: a folder per run, and the claims of publishing (run.ts publishOnce). */
  runsPrefix: string;
  /** The claim a run holds while it publishes the outputs of one version of the source (run.ts publishOnce, claim.ts). */
  publication(etag: string): string;
  /** The claim a `modelctl batch` run holds while it writes these outputs (shard/local.ts): beside them, as no cleanup of the parts may remove it. */
  running: string;
}

/**
 * The outputs of a sharded run of one version of the source, and the folder of its own where it
 * keeps its parts, its plan, its ranges alone (a JSON array, what a Distributed Map reads) and each
 * range's counts once scored. Of its own because a range of a run for an earlier upload of the same
 * key may still be writing its part: in a shared folder, that part could land after the new run's
 * range wrote its part and result under the same number, and the result would vouch for the old rows.
 */
export interface ShardOutputs extends BatchOutputs {
  partsPrefix: string;
  part(index: number, kind: 'predictions' | 'errors'): string;
  plan: string;
  ranges: string;
  rangeResult(index: number): string;
}

/** The format of a batch file by its name, or undefined when it is not one that is scored. */
export function formatOfName(name: string): BatchFormat | undefined {
  const suffix = INPUT_SUFFIXES.find((s) => name.toLowerCase().endsWith(s));
  return suffix === undefined ? undefined : suffix === '.csv' ? 'csv' : 'jsonl';
}

export function parseInputKey(key: string): BatchInput {
  if (!key.startsWith(INPUT_PREFIX)) throw new BadRequestError(`${key} is not under ${INPUT_PREFIX}`);
  const relative = key.slice(INPUT_PREFIX.length);
  const [refText, ...rest] = relative.split('/');
  if (rest.length === 0 || rest.some((p) => p === '' || p === '..')) {
    throw new BadRequestError(`${key}: expected ${INPUT_PREFIX}{model}[@alias|:version]/{file}`);
  }
  const suffix = INPUT_SUFFIXES.find((s) => key.toLowerCase().endsWith(s));
  if (!suffix) throw new BadRequestError(`${key}: only ${INPUT_SUFFIXES.join(', ')} files are scored`);
  return { key, ref: parseModelRef(refText), format: suffix === '.csv' ? 'csv' : 'jsonl', relative };
}

/**
 * Where the manifest of an upload under batch/input/ goes when its key names no model
 * (batch/input/x.csv, batch/input/IRIS/x.csv): the same path below batch/output/, so the user
 * finds the reason where the outputs would have been. Undefined for a path that cannot be
 * mirrored (an empty or `..` segment).
 */
export function refusedManifestKey(key: string): string | undefined {
  if (!key.startsWith(INPUT_PREFIX)) return undefined;
  const relative = key.slice(INPUT_PREFIX.length);
  if (relative.split('/').some((part) => part === '' || part === '.' || part === '..')) return undefined;
  return `${OUTPUT_PREFIX}${relative}.manifest.json`;
}

/** A version of the source (its ETag, or its size without one) as a key segment: an ETag's quotes, and anything else a key should not hold, go. */
function versionSegment(etag: string): string {
  return etag.replace(/[^\w.-]/g, '') || 'none';
}

/** The outputs of an input: under batch/output/ for the S3 trigger, or under any prefix (modelctl batch). */
export function outputsFor(input: BatchInput, prefix = OUTPUT_PREFIX): BatchOutputs {
  const base = `${prefix}${input.relative}`;
  return {
    predictions: `${base}.predictions.${input.format === 'csv' ? 'csv' : 'jsonl'}`,
    errors: `${base}.errors.jsonl`,
    manifest: `${base}.manifest.json`,
    shardsPrefix: `${base}.parts/`,
    runsPrefix: `${base}.runs/`,
    publication: (etag) => `${base}.runs/${versionSegment(etag)}.publishing.json`,
    running: `${base}.running.json`,
  };
}

/** The outputs of a sharded run of the source version `etag` (ShardOutputs). */
export function shardOutputsFor(outputs: BatchOutputs, etag: string): ShardOutputs {
  const folder = `${outputs.shardsPrefix}${versionSegment(etag)}/`;
  const numbered = (index: number) => `${folder}${String(index).padStart(5, '0')}`;
  return {
    ...outputs,
    partsPrefix: folder,
    part: (index, kind) => `${numbered(index)}.${kind}`,
    plan: `${folder}plan.json`,
    ranges: `${folder}ranges.json`,
    rangeResult: (index) => `${numbered(index)}.json`,
  };
}

/** A run's id: made when a run starts from the S3 event, carried in its continuations and its checkpoint. */
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newRunId(): string {
  return randomUUID();
}

export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && RUN_ID.test(value);
}

/**
 * What one run through one function writes before the outputs: its parts (one per invocation) and
 * its checkpoint, in a folder of its own. S3 may deliver an upload's event twice, and the two runs
 * then score the same file at once: with their own keys neither can overwrite the other's parts or
 * checkpoint, and only the joined outputs are shared (published once: run.ts publishOnce).
 */
export interface RunFiles {
  run: string;
  /** Everything of this run, and nothing else. */
  prefix: string;
  checkpoint: string;
  part(index: number, kind: 'predictions' | 'errors'): string;
}

export function runFiles(outputs: Pick<BatchOutputs, 'runsPrefix'>, run: string): RunFiles {
  if (!isRunId(run)) throw new Error(`not a batch run id: ${run}`);
  const prefix = `${outputs.runsPrefix}${run}/`;
  return {
    run,
    prefix,
    checkpoint: `${prefix}checkpoint.json`,
    part: (index, kind) => `${prefix}${String(index).padStart(5, '0')}.${kind}`,
  };
}
