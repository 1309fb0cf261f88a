import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { readAlias, setAlias, TASKS, type Manifest, type ManifestFields, type ScoreKind, type Task } from '../../lib/registry/index.js';
import { AnswerOutputError, pushModelFolder, pushTfjsZip } from '../../lib/ops/pushFolder.js';
import { pushKerasFile } from '../../lib/ops/pushKeras.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { PartlyDoneError, UsageError } from '../errors.js';
import { aliasArgument, aliasSettable, modelArgument } from '../refs.js';
import { readOptionFile } from '../userFiles.js';
import { describeSettings, preprocessingFrom, type PreprocessingOptions } from './preprocessing.js';

export interface PushOptions extends PreprocessingOptions {
  name: string;
  alias?: string;
  task?: string;
  scores?: ScoreKind;
  labels?: string;
  output?: string;
  meta?: string;
  /** Make no version when the highest one holds the same files and settings (registry/unchanged.ts). */
  skipUnchanged?: boolean;
}

/** The --meta file: a JSON object of manifest fields (the manifest's schema checks them when the version is created). */
async function metaFields(file: string): Promise<Partial<ManifestFields>> {
  const text = await readOptionFile('--meta', file, 'utf8');
  let fields: unknown;
  try {
    fields = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--meta ${file}: not JSON (${(error as Error).message})`);
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new UsageError(`--meta ${file}: expected a JSON object of manifest fields`);
  return fields as Partial<ManifestFields>;
}

/** Extra manifest fields: --meta file.json (labels, transforms, background, metrics...), then flags (they win). */
async function fieldsFrom(options: PushOptions): Promise<Partial<ManifestFields>> {
  const fields: Partial<ManifestFields> = options.meta ? await metaFields(options.meta) : {};
  if (options.labels) fields.labels = options.labels.split(',').map((l) => l.trim());
  if (options.task) {
    if (!TASKS.includes(options.task as Task)) throw new UsageError(`--task must be one of ${TASKS.join(', ')}`);
    fields.task = options.task as Task;
  }
  if (options.scores) fields.scores = options.scores;
  if (options.output !== undefined) fields.answerOutput = options.output;
  const input = await preprocessingFrom(options);
  if (input) fields.transforms = { ...fields.transforms, input: input as { kind: string } };
  return fields;
}

/**
 * A model of any size pushed to take images of one: every image is resized to it. That may be what
 * its authors do (a pose model run at 256 x 256); an upscaler's authors take each at its own size.
 */
function anySizeNote(manifest: Manifest): string[] {
  const settings = manifest.transforms.input as { kind: string; width?: number; channels?: number; layout?: string } | undefined;
  const shape = manifest.signature.inputs[0]?.shape;
  if (settings?.kind !== 'image' || settings.width === undefined || !shape || shape.length !== 4) return [];
  const sides = settings.layout === 'chw' ? shape.slice(2) : shape.slice(1, 3);
  if (!sides.every((d) => d < 0)) return [];
  return [`note: the model takes images of any size, and these settings resize each to one; --image anyx${settings.channels} takes each at its own size`];
}

/** An interrupted push ends by its signal (exit status 128 + its number), saying that no version was made. */
function stop(signal: NodeJS.Signals, what: string): never {
  console.error(`modelctl: interrupted (${signal}): no version was pushed: ${what}`);
  process.kill(process.pid, signal);
  // The signal ends the process (its handler is gone); this line is never reached.
  throw new Error(`interrupted (${signal})`);
}

export async function push(store: ObjectStore, source: string, options: PushOptions): Promise<string> {
  // Checked before anything is read or written: a refused alias used to leave the new version behind.
  const name = modelArgument(options.name);
  const alias = options.alias === undefined ? undefined : aliasArgument(options.alias);
  // A new alias may not be a number: said before the version is written, not after.
  if (alias !== undefined) await aliasSettable(store, name, alias);
  const fields = await fieldsFrom(options);
  const bar = new cliProgress.SingleBar({ format: 'uploading [{bar}] {value}/{total} files', clearOnComplete: true }, cliProgress.Presets.shades_classic);
  let started = false;
  const onProgress = (written: number, total: number) => {
    if (!started) bar.start(total, 0);
    started = true;
    bar.update(written);
  };
  let unchanged = false;
  const interruption = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  // Ctrl-C or SIGTERM: before the first write, at once; once writing, after the write under way,
  // which createVersion follows by removing what it wrote (a second Ctrl-C ends it at once).
  const interrupted = (signal: NodeJS.Signals) => {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    stoppedBy = signal;
    interruption.abort();
    if (!started) stop(signal, 'it was stopped before the upload');
  };
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
  const versionOptions = { onProgress, signal: interruption.signal, ...(options.skipUnchanged ? { onUnchanged: () => (unchanged = true) } : {}) };
  // A folder or a .json file is a TF.js model, and so is a .zip of a folder (as imports/ takes it);
  // another file is a Keras model (.keras or .h5), imported.
  const found = await stat(source).catch(() => undefined);
  if (!found) throw new UsageError(`${source}: no such folder or file (push takes a TF.js model folder, its .json file or a .zip of it, or a .keras or .h5 file)`);
  const extension = path.extname(source).toLowerCase();
  let manifest: Awaited<ReturnType<typeof pushModelFolder>>;
  try {
    if (found.isDirectory() || extension === '.json') manifest = await pushModelFolder(store, source, name, fields, versionOptions);
    else {
      const bytes = new Uint8Array(await readFile(source));
      const where = path.resolve(source);
      if (extension !== '.zip') manifest = await pushKerasFile(store, bytes, where, name, fields, versionOptions);
      else manifest = await pushTfjsZip(store, bytes, createHash('sha256').update(bytes).digest('hex'), where, name, fields, versionOptions);
    }
  } catch (error) {
    bar.stop();
    if (stoppedBy && error === interruption.signal.reason) stop(stoppedBy, 'the files it had written were removed');
    // An --output the model has no output of is a mistake in the command line, as an explain --target is (exit 2).
    throw error instanceof AnswerOutputError ? new UsageError(`--output: ${error.message}`) : error;
  } finally {
    bar.stop();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
  const scores = manifest.scores && manifest.scores !== 'probabilities' ? `, scores from ${manifest.scores}` : '';
  const { outputs } = manifest.signature;
  // Of several outputs, which one the task and labels are of, and so every answer's label.
  const answers = outputs.length > 1 ? `, of output ${outputs[0].name}, one of ${outputs.length}${manifest.answerOutput ? '' : ': --output names another'}` : '';
  const lines = [
    unchanged
      ? `unchanged: ${manifest.name}:${manifest.version} in ${store.uri} holds these files and settings; no version made (--skip-unchanged)`
      : `pushed ${manifest.name}:${manifest.version} (${manifest.format}, ${manifest.task}${scores}${answers}) to ${store.uri}`,
    describeSettings(manifest.transforms.input),
    ...anySizeNote(manifest),
  ];
  if (alias !== undefined) {
    try {
      await setAlias(store, manifest.name, alias, manifest.version);
    } catch (error) {
      // The write may have landed with its answer lost: what the alias says now decides.
      const now = await readAlias(store, manifest.name, alias).catch(() => undefined);
      if (now?.version !== manifest.version) {
        const next = `the version is stored: point the alias at it with modelctl promote ${manifest.name} ${manifest.version} --alias ${alias} (pushing again makes another version; pushed with --skip-unchanged, it finds this one)`;
        throw new PartlyDoneError(lines[0], `alias ${alias} was not moved`, next, { cause: error });
      }
    }
    lines.push(`alias ${alias} -> ${manifest.version}`);
  }
  return lines.join('\n');
}
