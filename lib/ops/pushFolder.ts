/** Push of a TF.js model folder (layers or graph, as tensorflowjs_converter writes it). */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BadRequestError, quoted, ServiceError } from '../errors.js';
import { unzipBounded } from '../keras/archive.js';
import { backendName, initBackend, type BackendName } from '../runtime/backend.js';
import { isBackendFault } from '../runtime/recovery.js';
import { disposeModel, modelFromMemory, signatureOf } from '../runtime/tfModel.js';
import { exampleSignature } from '../runtime/trialRun.js';
import { withWholePixels } from './wholePixels.js';
import type { ObjectStore } from '../store/index.js';
import {
  checkWeightFiles,
  concatWeights,
  declaredGroupBytes,
  formatOf,
  leastGroupBytes,
  parseModelJson,
  weightPaths,
  type ModelFiles,
  type ModelJson,
} from '../registry/artifacts.js';
import { createClaimedVersion } from '../registry/claimedVersion.js';
import { createVersion, type CreateVersionOptions } from '../registry/createVersion.js';
import { checkShardPaths } from '../registry/shardPaths.js';
import { naturalRow, outputIndexNamed, type Manifest, type ManifestFields, type Signature, type Task } from '../registry/manifest.js';
import { validateName } from '../registry/names.js';
import { isPerPosition, lastDimension } from '../tensors/data.js';
import { guessScores, guessTask } from './taskGuess.js';

/** The model file parsed; what is wrong with it names the file the user gave (package.json, not model.json). */
function modelJsonOf(bytes: Uint8Array | undefined, file: string): ModelJson {
  try {
    return parseModelJson(bytes);
  } catch (error) {
    if (error instanceof BadRequestError && file !== 'model.json') throw new BadRequestError(error.message.replaceAll('model.json', file));
    throw error;
  }
}

/**
 * Reads model.json and exactly the shards its weights manifest names. `source` is the model's
 * folder, or its model file itself: packages often ship several models in one folder, each as
 * `name.json` beside its shards (`name.bin`), where no file is called model.json.
 */
export async function readModelFolder(source: string): Promise<ModelFiles> {
  const isFile = (await fs.stat(source).catch(() => undefined))?.isFile() === true;
  const [dir, modelFile] = isFile ? [path.dirname(source), path.basename(source)] : [source, 'model.json'];
  const files: ModelFiles = new Map();
  const modelJsonBytes = await fs.readFile(path.join(dir, modelFile)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!modelJsonBytes) throw new BadRequestError(`${dir} has no model.json: is it a TF.js model folder?`);
  files.set('model.json', new Uint8Array(modelJsonBytes));
  const modelJson = modelJsonOf(files.get('model.json'), modelFile);
  checkShardPaths(weightPaths(modelJson)); // before any is read: none is outside the folder
  for (const [index, group] of (modelJson.weightsManifest ?? []).entries()) {
    const sizes = await shardSizes(dir, group.paths, index);
    // The missing ones alone: the registry's check, which finds none of the group read, named every shard of it.
    const missing = group.paths.filter((_, i) => sizes[i] === undefined);
    if (missing.length > 0) throw new BadRequestError(`weight files missing for weightsManifest[${index}]: ${missing.join(', ')}`);
    // Sizes first: a shard that is not what the manifest declares is refused before it is read (a
    // 3 GB file would fail Node's read with a stack, not name itself). A group with string weights
    // declares only its fewest bytes: the rest is checked once read (checkWeightFiles).
    const declared = declaredGroupBytes(group);
    const held = sizes.reduce((a: number, b) => a + (b ?? 0), 0);
    if (declared !== undefined && held !== declared) {
      throw new BadRequestError(`weight files ${group.paths.join(', ')} hold ${held} bytes but weightsManifest[${index}] declares ${declared}`);
    }
    if (declared === undefined && held < leastGroupBytes(group)) {
      throw new BadRequestError(
        `weight files ${group.paths.join(', ')} hold ${held} bytes, fewer than the ${leastGroupBytes(group)} weightsManifest[${index}]'s weights take at least`,
      );
    }
    for (const shard of group.paths) files.set(shard, new Uint8Array(await fs.readFile(path.join(dir, shard))));
  }
  return files;
}

/** The sizes of a manifest group's shards, undefined for each that is missing; a path that names no file is refused, naming it. */
async function shardSizes(dir: string, shards: string[], index: number): Promise<(number | undefined)[]> {
  const sizes: (number | undefined)[] = [];
  for (const [i, shard] of shards.entries()) {
    const where = `weightsManifest[${index}].paths[${i}] ${JSON.stringify(shard)}`;
    const found = await fs.stat(path.join(dir, shard)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      // ENOTDIR: a path through a file (`weights.bin/`); anything else, said as the system says it.
      throw new BadRequestError(error.code === 'ENOTDIR' ? `${where} is not a file in ${dir}` : `${where}: ${error.message}`);
    });
    if (!found) {
      sizes.push(undefined);
      continue;
    }
    if (!found.isFile()) throw new BadRequestError(`${where} names ${found.isDirectory() ? 'a folder' : 'something other than a file'} in ${dir}, not a weight file`);
    sizes.push(found.size);
  }
  return sizes;
}

/** TF.js's words for an op the backend cannot run (wasm: "BatchMatMul for non non-float32 tensors not yet supported."). */
const MISSING_KERNEL = /not registered for backend|not yet supported|is not supported/i;

/**
 * Loads the model in memory to read its inputs and outputs, and runs one example through it
 * (runtime/trialRun.ts), which also says the output shapes a graph leaves out or fixes to one row. The bytes are all here and the backend has started, so what TF.js throws
 * now (an unknown layer class or op, a topology it cannot read, an op the backend has no kernel
 * for) is the model's problem: a 400 with TF.js's own words, on one line, never a crash of the
 * push or import, and never a stored version that answers every request with a 500.
 */
export async function inferSignature(files: ModelFiles, naturalRow?: readonly number[]): Promise<Signature> {
  const modelJson = parseModelJson(files.get('model.json'));
  checkWeightFiles(modelJson, files);
  const backend = await initBackend(); // a backend that does not start is not the model's fault: thrown as it is
  let stage = 'load';
  try {
    const model = await modelFromMemory(formatOf(modelJson), modelJson, concatWeights(modelJson, files));
    try {
      const signature = signatureOf(model);
      stage = 'run';
      return await exampleSignature(model, signature, naturalRow);
    } finally {
      disposeModel(model);
    }
  } catch (error) {
    if (error instanceof ServiceError || isBackendFault(error)) throw error;
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
    const what = stage === 'load' ? 'load the model' : `run the model on the ${backend} backend (one example)`;
    // An op this backend has no kernel for: the cpu backend has one for every op TF.js runs.
    const elsewhere =
      stage === 'run' && backend !== 'cpu' && MISSING_KERNEL.test(message)
        ? ` (TFJS_BACKEND chooses the functions' backend: a model that only cpu runs is pushed, and served, with TFJS_BACKEND=cpu)`
        : '';
    throw new BadRequestError(`TF.js cannot ${what}: ${message}${elsewhere}`, { cause: error });
  }
}

/**
 * A model with no inputs or no outputs has nothing to serve: refused, naming which, before anything
 * reads its first output (a graph with no nodes loads in TF.js with neither).
 */
function checkSignatureUsable(signature: Signature): void {
  for (const side of ['inputs', 'outputs'] as const) {
    if (!Array.isArray(signature[side]) || signature[side].length === 0)
      throw new BadRequestError(`the model has no ${side}: TF.js finds none in it, so there is nothing to serve`);
  }
}

/** The output a push names to answer from (--output, answerOutput) is not the model's: modelctl says it of its option. */
export class AnswerOutputError extends BadRequestError {
  constructor(answerOutput: string, signature: Signature) {
    super(`output ${quoted(answerOutput)} is not one of the model's: its outputs are ${signature.outputs.map((o) => quoted(o.name)).join(', ')}`);
  }
}

/**
 * The signature with the output that answers, labels, task and scores read first: the one
 * `answerOutput` (--output) names, by its name (a graph's signature key) or its node, else the
 * model's first. Refused, naming the outputs, when no output has that name.
 */
function withAnswerOutput(signature: Signature, answerOutput: string | undefined): Signature {
  if (answerOutput === undefined) return signature;
  const at = outputIndexNamed(signature.outputs, answerOutput);
  if (at < 0) throw new AnswerOutputError(answerOutput, signature);
  return { ...signature, outputs: [signature.outputs[at], ...signature.outputs.filter((_, i) => i !== at)] };
}

/** The first value that occurs again in `values`, if any. */
function firstRepeated(values: unknown[]): unknown {
  return values.find((value, i) => values.indexOf(value) !== i);
}

/**
 * Settings that do not fit the model are refused before anything is written: labels are index-aligned
 * with the output units (a binary model's with [negative, positive]), and labels and features are
 * each named once. Every push comes here (folder, Keras file, import with its {file}.meta.json).
 */
function checkFieldsFit(signature: Signature, task: Task, fields: Partial<ManifestFields>): void {
  const output = signature.outputs[0];
  const units = lastDimension(output.shape);
  const labels = Array.isArray(fields.labels) ? fields.labels : undefined; // else the manifest's schema refuses them
  if (labels && task === 'regression')
    throw new BadRequestError('labels name classes, and a regression model has none: drop the labels, or give the task classification or binary');
  // A label given twice names two classes alike: evaluate and explain would take the first for both.
  const repeatedLabel = labels && firstRepeated(labels);
  if (repeatedLabel !== undefined) throw new BadRequestError(`label ${JSON.stringify(repeatedLabel)} is given twice: each label names one class (one output unit)`);
  if (fields.scores !== undefined && task === 'regression')
    throw new BadRequestError(`scores ${fields.scores}: a regression's outputs are values, not class scores; scores is for a classifier`);
  if (task !== 'regression' && isPerPosition(output.shape)) {
    const others = signature.outputs.length > 1 ? `, or name another of its ${signature.outputs.length} outputs (--output)` : '';
    // A size known only as the model runs (an image model pushed without --image) may be 1: tried at the image's size, the push learns it.
    const open = output.shape?.slice(1, -1).includes(-1) ? `; its sizes of -1 are only known as it runs: with --image WxHxC the push tries it and learns them` : '';
    throw new BadRequestError(
      `output ${output.name} has shape [${output.shape}]: a vector a pixel or position (a mask, keypoints), where a ${task} model answers one score vector a row, so its label would be a pixel's index: push it with --task regression and without labels or scores, which answers the whole output${others}${open}`,
    );
  }
  if (labels && task === 'binary' && labels.length !== 2) throw new BadRequestError(`a binary model has 2 labels (negative, positive), got ${labels.length}`);
  if (task === 'binary' && units > 2) throw new BadRequestError(`a binary model has 1 output unit (or 2), and output ${output.name} has ${units}`);
  // A width of -1 is only known when the model runs: nothing to check against.
  if (labels && task === 'classification' && units > 0 && labels.length !== units) {
    // Labels for another of the model's outputs: say which, as the push reads its first unless told.
    const other = labels.length >= 2 ? signature.outputs.slice(1).find((o) => lastDimension(o.shape) === labels.length) : undefined;
    const hint = other ? `, or --output ${other.name}, which has ${labels.length}` : '';
    throw new BadRequestError(`${labels.length} labels for ${units} output units (output ${output.name}): give one label per unit${hint}`);
  }
  // One class is no choice: every row would get it, with a score that means nothing.
  if (labels && task === 'classification' && labels.length < 2)
    throw new BadRequestError(`a classifier has 2 classes at least, got ${labels.length} label: a one-unit output that scores one class is binary (labels negative,positive)`);
  const input = fields.transforms?.input as { kind?: string; features?: { name?: unknown }[] } | undefined;
  // Natural instances are encoded into the first input only: a model that takes others (a recurrent
  // matting model's states, rvm's r1i..r4i and downsample_ratio) would refuse every natural request.
  if (input?.kind && signature.inputs.length > 1) {
    const [first, ...others] = signature.inputs;
    throw new BadRequestError(
      `the ${input.kind} preprocessing fills one input, ${first.name}, and the model takes ${others.length} more (${others.map((o) => o.name).join(', ')}), which natural instances cannot give: push it without preprocessing and send raw tensors, each input by name`,
    );
  }
  if (input?.kind === 'tabular' && Array.isArray(input.features)) {
    const repeated = firstRepeated(input.features.map((f) => f.name));
    if (repeated !== undefined) throw new BadRequestError(`feature ${String(repeated)} is named twice: each feature is one input column`);
  }
}

/** A zip of a TF.js model folder (an import, or `modelctl push m.zip`): model.json and its shards, at the top or in one folder. */
function tfjsZipFiles(bytes: Uint8Array, what: string): ModelFiles {
  const entries = unzipBounded(bytes, what);
  const modelJson = Object.keys(entries).find((name) => name === 'model.json' || /^[^/]+\/model\.json$/.test(name));
  if (!modelJson) throw new BadRequestError(`${what} holds no model.json at its top or in one folder: is it a zipped TF.js model folder?`);
  const folder = modelJson.slice(0, -'model.json'.length);
  const files: ModelFiles = new Map();
  for (const [name, content] of Object.entries(entries)) if (name.startsWith(folder) && !name.endsWith('/')) files.set(name.slice(folder.length), content);
  return files;
}

export interface PushOptions extends CreateVersionOptions {
  /** The key of the work's claim (registry/claimedVersion.ts): however many attempts push, one version. */
  claim?: string;
  /** Where the signature is given: the backend its trial example ran on (pushKeras ran it), recorded as the version's. */
  trialBackend?: BackendName;
}

/**
 * A new image model reads a PNG's colour as stored, its transparency ignored, unless the push says
 * otherwise: its authors' pipelines read it so (TensorFlow's decode_png with 3 channels,
 * tf.node.decodeImage(bytes, 3), tf.browser.fromPixels, PIL's convert('RGB')), and compositing over
 * white moved nsfwjs's answer on a half-transparent photo by 0.16 and flipped human's liveness label.
 * Written into the manifest: one without it (pushed before) is still read over white.
 */
function withAlphaDropped(fields: Partial<ManifestFields>): Partial<ManifestFields> {
  const input = fields.transforms?.input as Record<string, unknown> | undefined;
  if (input?.kind !== 'image' || input.alpha !== undefined) return fields;
  return { ...fields, transforms: { ...fields.transforms, input: { ...input, kind: 'image', alpha: 'drop' } } };
}

/** A TF.js model's files (model.json and its shards) -> a new version; `source` goes in the lineage. */
export async function pushModelFiles(
  store: ObjectStore,
  files: ModelFiles,
  source: string,
  name: string,
  offered: Partial<ManifestFields> = {},
  options: PushOptions = {},
): Promise<Manifest> {
  validateName(name);
  // The backend is recorded from the trial run only, never taken from the fields given (a --meta
  // file or an import's meta.json made elsewhere would vouch for a backend nothing ran on).
  const { backend: _said, ...given } = offered;
  const inferred = given.signature ?? (await inferSignature(files, naturalRow(given)));
  const backend = given.signature === undefined ? backendName() : options.trialBackend;
  checkSignatureUsable(inferred);
  const signature = withAnswerOutput(inferred, given.answerOutput);
  const modelJson = parseModelJson(files.get('model.json'));
  const task = given.task ?? guessTask(modelJson, signature, Array.isArray(given.labels) ? given.labels : undefined, given.scores);
  checkFieldsFit(signature, task, given);
  // After the checks of fit: preprocessing on a model of several inputs is refused for that first.
  const fields = withAlphaDropped(withWholePixels(signature.inputs[0], given));
  const scores = fields.scores ?? guessScores(modelJson, signature, task);
  const answerOutput = fields.answerOutput === undefined ? {} : { answerOutput: signature.outputs[0].name };
  // The backend the trial example ran on: a function on another runs it again at load.
  const complete = {
    ...fields,
    task,
    ...(scores ? { scores } : {}),
    ...answerOutput,
    signature,
    ...(backend ? { backend } : {}),
    lineage: fields.lineage ?? { parent: null, source },
  };
  return options.claim ? createClaimedVersion(store, name, files, complete, options.claim, options) : createVersion(store, name, files, complete, options);
}

export async function pushModelFolder(store: ObjectStore, dir: string, name: string, fields: Partial<ManifestFields> = {}, options: CreateVersionOptions = {}): Promise<Manifest> {
  validateName(name);
  return pushModelFiles(store, await readModelFolder(dir), path.resolve(dir), name, fields, options);
}

/**
 * A zip of a TF.js model folder -> a new version whose lineage names the zip and its sha256 (by
 * which an import finds a version it made before its outcome was recorded). `where`: the zip's key
 * or path. Both doors take it: an upload under imports/ and `modelctl push m.zip`.
 */
export function pushTfjsZip(
  store: ObjectStore,
  bytes: Uint8Array,
  sha256: string,
  where: string,
  name: string,
  fields: Partial<ManifestFields> = {},
  options: PushOptions = {},
): Promise<Manifest> {
  const lineage = { parent: null, source: where, sourceFormat: 'tfjs-zip' as const, sourceSha256: sha256 };
  return pushModelFiles(store, tfjsZipFiles(bytes, where), where, name, { ...fields, lineage }, options);
}
