/**
 * TF Serving REST `:predict` (TensorFlow Serving's REST API): `instances` (row format) or
 * `inputs` (columnar), `{"b64": ...}` for binary values; answers `predictions` or `outputs`.
 * Our extensions keep the shape: natural instances through the model's transforms, labelled
 * answers for classifiers (`raw: true` gives TF Serving's plain arrays), `top_k`.
 */
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import { inputFromValues, inputKindOf, rawTensor, type ModelInput } from '../inputs/encode.js';
import type { Manifest } from '../registry/manifest.js';
import { keyedByInputName } from '../tensors/inputNames.js';
import type { TensorData, TensorSpec } from '../tensors/data.js';
import { nest } from '../tensors/nested.js';
import { checkFiniteOutput, toAnswers } from './answers.js';

/** The one signature a TF.js model has, under the key TF Serving gives a SavedModel's default (its metadata lists it so). */
export const DEFAULT_SIGNATURE = 'serving_default';

/**
 * `signature_name` as TF Serving reads it: "" or absent is the default signature, and a name the
 * model lacks is a 400 (GetInfoMap's 'Serving signature name: "x" not found in signature def'):
 * answering another signature's request from the default one would be a wrong answer, not a 400.
 */
export const signatureName = z
  .string()
  .refine((name) => name === '' || name === DEFAULT_SIGNATURE, {
    error: (issue) => `"${String(issue.input)}" not found: the model has one signature, "${DEFAULT_SIGNATURE}" (or "" for it)`,
  })
  .optional();

/**
 * A TF Serving request's keys, a key it does not know refused naming the ones it takes:
 * tensorflow_model_server skips such a key, but here a misspelt option (`topk`, `signature`) would
 * change the answer unseen.
 */
export function tfServingRequest<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key(s) ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}: a TF Serving request takes ${Object.keys(shape).join(', ')}`
        : undefined,
  });
}

export const tfServingPredictRequest = tfServingRequest({
  signature_name: signatureName.describe(`the model's one signature, "${DEFAULT_SIGNATURE}" (or ""), as its TF Serving metadata lists it`),
  instances: z.array(z.unknown()).optional().describe('row format: one entry per example (a tensor row, a feature record, a string, or {"b64": ...})'),
  inputs: z.unknown().optional().describe('columnar format: a tensor, or an object of named tensors (or feature columns)'),
  raw: z.boolean().optional().describe('true: plain arrays as TF Serving answers; false: labels and scores. Default: raw when raw tensors were sent without top_k'),
  top_k: z.number().int().positive().max(1000).optional().describe('classifiers: how many ranked scores each answer carries (labelled answers, raw tensors sent or not)'),
})
  .refine((r) => (r.instances === undefined) !== (r.inputs === undefined), 'send exactly one of "instances" (row format) or "inputs" (columnar format)')
  .describe('TF Serving predict request');

export type TfServingPredictRequest = z.infer<typeof tfServingPredictRequest>;

/** /preprocess: the instances (or columnar inputs) of a predict request, and nothing else. */
export const preprocessRequest = z
  .object({
    instances: z.array(z.unknown()).optional().describe('as in :predict: feature records, strings, {"b64": ...} images or raw tensor rows'),
    inputs: z.unknown().optional().describe("as in :predict's columnar format"),
  })
  .strict()
  .refine((r) => (r.instances === undefined) !== (r.inputs === undefined), 'send exactly one of "instances" (row format) or "inputs" (columnar format)')
  .describe('preprocess request');

export const tfServingPredictResponse = z
  .object({
    predictions: z.array(z.unknown()).optional(),
    outputs: z.unknown().optional(),
    model_version: z.string().optional(),
  })
  .describe('TF Serving predict response: `predictions` for row requests, `outputs` for columnar ones');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeColumns(manifest: Manifest, sent: unknown): ModelInput {
  const { inputs } = manifest.signature;
  const natural = inputKindOf(manifest);
  const features = natural?.kind.requiredColumns(natural.settings);
  if (Array.isArray(sent)) {
    const columns = sent;
    // An OIP request's inputs sent here: said so, not "inputs[0]: expected a number, got object".
    if (isRecord(columns[0]) && 'datatype' in columns[0] && 'name' in columns[0]) {
      throw new BadRequestError(
        `inputs: these are Open Inference Protocol tensors (name, shape, datatype, data), which /v2/models/${manifest.name}/infer takes; here "inputs" is TF Serving's columnar form (a tensor, or an object of tensors by input name), or send "instances"`,
      );
    }
    // Kinds whose instances are single values (text, images) take a list of them.
    // Read as the row form reads instances: every one of the first's form, else a 400 naming the first that is not.
    if (natural && !features && columns.length > 0 && natural.kind.isInstance(natural.settings, columns[0])) return inputFromValues(manifest, columns, 'inputs');
    if (inputs.length !== 1) throw new BadRequestError(`inputs: the model takes several inputs (${inputs.map((s) => s.name).join(', ')}): send an object of named tensors`);
    return { kind: 'tensors', tensors: [rawTensor(inputs[0], columns, 'inputs')] };
  }
  if (!isRecord(sent)) throw new BadRequestError('inputs: expected a tensor (nested array) or an object of named tensors');
  const columns = keyedByInputName(inputs, sent, 'inputs');
  const names = Object.keys(columns);
  if (names.length === 0)
    throw new BadRequestError(
      `inputs: is empty: send the model's inputs by name (${inputs.map((s) => s.name).join(', ')})${features ? ` or its feature columns (${features.join(', ')})` : ''}`,
    );
  // Kinds that name columns (tabular features) take an object of feature columns.
  if (features && names.every((n) => features.includes(n))) {
    const missing = features.filter((f) => !names.includes(f));
    if (missing.length > 0) throw new BadRequestError(`inputs: missing feature column(s) ${missing.join(', ')}: the model takes the columns ${features.join(', ')}`);
    const notArray = names.find((n) => !Array.isArray(columns[n]));
    if (notArray !== undefined) throw new BadRequestError(`inputs.${notArray}: expected a feature column (an array of one value per row)`);
    const length = (n: string) => (columns[n] as unknown[]).length;
    const odd = names.find((n) => length(n) !== length(names[0]));
    if (odd !== undefined) {
      throw new BadRequestError(`inputs.${odd}: ${length(odd)} values where inputs.${names[0]} has ${length(names[0])}: every feature column has one value per row`);
    }
    const instances = Array.from({ length: length(names[0]) }, (_, r) => Object.fromEntries(names.map((n) => [n, (columns[n] as unknown[])[r]])));
    // A row's messages name it as the element of every column (`inputs.*[r]`), not as an instance the request does not have.
    return { kind: 'instances', instances, where: 'inputs', place: (r) => `inputs.*[${r}]` };
  }
  const takes = `the model takes ${inputs.map((s) => s.name).join(', ')}${features ? `, or feature columns ${features.join(', ')}` : ''}`;
  const isInput = (n: string) => inputs.some((s) => s.name === n);
  const unknown = names.filter((n) => !isInput(n) && !features?.includes(n));
  if (unknown.length > 0) throw new BadRequestError(`inputs: unknown input(s) ${unknown.join(', ')}: ${takes}`);
  // Feature columns beside an input by name: one form or the other.
  if (names.some((n) => !isInput(n))) throw new BadRequestError(`inputs: ${names.join(', ')} mixes feature columns and model inputs: ${takes}, one form or the other`);
  // The one input of a model whose instances are single values (text, images), named: a column of such instances, as the row form takes them.
  const column = names.length === 1 ? columns[names[0]] : undefined;
  if (natural && !features && Array.isArray(column) && column.length > 0 && natural.kind.isInstance(natural.settings, column[0])) {
    return inputFromValues(manifest, column, `inputs.${names[0]}`);
  }
  return { kind: 'tensors', tensors: names.map((name) => ({ ...rawTensor(inputs.find((s) => s.name === name) as TensorSpec, columns[name], `inputs.${name}`), name })) };
}

export function decodeTfServing(manifest: Manifest, request: TfServingPredictRequest): ModelInput & { columnar: boolean } {
  if (request.instances !== undefined) return { ...inputFromValues(manifest, request.instances, 'instances'), columnar: false };
  return { ...decodeColumns(manifest, request.inputs), columnar: true };
}

/**
 * Whether the answer is TF Serving's plain arrays: as asked, else when raw tensors were sent, unless
 * top_k asks for ranked scores. top_k is refused where it would be ignored (plain arrays asked, or
 * a regression model), before the model runs: a client asking for 3 scores and getting every
 * value, or one, would not know why.
 */
export function answersRaw(manifest: Manifest, request: TfServingPredictRequest, input: ModelInput): boolean {
  if (request.top_k !== undefined) {
    if (request.raw === true) throw new BadRequestError('top_k ranks the labelled answers; raw: true asks for plain arrays: send one or the other');
    if (manifest.task === 'regression') throw new BadRequestError(`top_k: ${manifest.name} is a regression model; top_k ranks a classifier's scores`);
    return false;
  }
  return request.raw ?? input.kind === 'tensors';
}

/** Plain arrays (TF Serving's own answer) or labelled answers, in row or columnar form. */
export function encodeTfServing(manifest: Manifest, outputs: TensorData[], options: { columnar: boolean; raw: boolean; topK?: number }): z.infer<typeof tfServingPredictResponse> {
  const model_version = String(manifest.version);
  if (!options.raw) {
    checkFiniteOutput(outputs[0], (r) => (options.columnar ? `row ${r}` : `instances[${r}]`));
    const answers = toAnswers(manifest, outputs[0], options.topK);
    return options.columnar ? { outputs: answers, model_version } : { predictions: answers, model_version };
  }
  if (options.columnar) {
    const outputsBody = outputs.length === 1 ? nest(outputs[0].data, outputs[0].shape) : Object.fromEntries(outputs.map((t) => [t.name, nest(t.data, t.shape)]));
    return { outputs: outputsBody, model_version };
  }
  const rows = outputs[0].shape[0];
  // Rows split every output by its first dimension, as TF Serving's row form does (MakeRowFormatJsonFromTensors
  // refuses an output without one, or of another batch size): else an output would be answered in part, or not at all.
  const odd = outputs.find((t) => t.shape.length === 0 || t.shape[0] !== rows);
  if (odd) {
    const why = odd.shape.length === 0 ? 'is one value for all rows' : `has ${odd.shape[0]} rows where ${outputs[0].name} has ${rows}`;
    throw new BadRequestError(`output ${odd.name} ${why}: the row form ("instances") cannot answer it by row; send the columnar form ("inputs"), which answers each output whole`);
  }
  const perOutputRows = outputs.map((t) => nest(t.data, t.shape) as unknown[]);
  const predictions = Array.from({ length: rows }, (_, r) =>
    outputs.length === 1 ? perOutputRows[0][r] : Object.fromEntries(outputs.map((t, i) => [t.name, perOutputRows[i][r]])),
  );
  return { predictions, model_version };
}
