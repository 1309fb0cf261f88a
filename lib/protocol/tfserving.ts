/**
 * TF Serving REST `:predict` (tensorflow_serving/g3doc/api_rest.md): `instances` (row format) or
 * `inputs` (columnar), `{"b64": ...}` for binary values; answers `predictions` or `outputs`.
 * Our extensions keep the shape: natural instances through the model's transforms, labelled
 * answers for classifiers (`raw: true` gives TF Serving's plain arrays), `top_k`.
 */
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import type { TensorData } from '../ops/tensorData.js';
import type { Manifest, TensorSpec } from '../registry/index.js';
import { isNaturalInstance } from '../transforms/natural.js';
import { toAnswers } from '../transforms/labels.js';
import { flattenNested, nest } from './nested.js';
import type { PredictPlan } from './plan.js';

export const tfServingPredictRequest = z
  .object({
    signature_name: z.string().optional().describe('accepted for compatibility; TF.js models have one signature'),
    instances: z.array(z.unknown()).optional().describe('row format: one entry per example (a tensor row, a feature record, a string, or {"b64": ...})'),
    inputs: z.unknown().optional().describe('columnar format: a tensor, or an object of named tensors (or feature columns)'),
    raw: z.boolean().optional().describe('true: plain arrays as TF Serving answers; false: labels and scores. Default: raw when raw tensors were sent'),
    top_k: z.number().int().positive().max(1000).optional().describe('classifiers: how many ranked scores each answer carries'),
  })
  .strict()
  .describe('TF Serving predict request');

export type TfServingPredictRequest = z.infer<typeof tfServingPredictRequest>;

export const tfServingPredictResponse = z
  .object({
    predictions: z.array(z.unknown()).optional(),
    outputs: z.unknown().optional(),
    model_version: z.string().optional(),
  })
  .describe('TF Serving predict response: `predictions` for row requests, `outputs` for columnar ones');

function rawTensor(spec: TensorSpec, value: unknown, where: string): TensorData {
  const numbersOnly = () => new BadRequestError(`${where}: expected numbers for input ${spec.name} (${spec.dtype}, shape [${spec.shape}])`);
  if (spec.dtype === 'float32' || spec.dtype === 'int32') {
    const { shape, data } = flattenNested(value, where, spec.dtype, numbersOnly);
    return { name: spec.name, dtype: spec.dtype, shape, data };
  }
  const { shape, data } = flattenNested(value, where);
  if (spec.dtype !== 'string' && data.some((v) => typeof v === 'string')) throw numbersOnly();
  return { name: spec.name, dtype: spec.dtype === 'string' ? 'string' : spec.dtype, shape, data };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeInstances(manifest: Manifest, instances: unknown[]): PredictPlan {
  if (instances.length === 0) throw new BadRequestError('instances is empty: send at least one instance');
  const { inputs } = manifest.signature;
  const transform = manifest.transforms.input;
  if (transform && instances.every((i) => isNaturalInstance(transform, i))) return { kind: 'natural', instances };
  if (inputs.length === 1 && !instances.some((i) => isRecord(i) && inputs[0].name in i)) {
    return { kind: 'tensors', tensors: [rawTensor(inputs[0], instances, 'instances')] };
  }
  // Several named inputs: each instance is {inputName: row}; stack per input.
  return {
    kind: 'tensors',
    tensors: inputs.map((spec) =>
      rawTensor(
        spec,
        instances.map((instance, r) => {
          if (!isRecord(instance) || !(spec.name in instance)) {
            throw new BadRequestError(`instances[${r}]: expected an object with the inputs ${inputs.map((s) => s.name).join(', ')}`);
          }
          return instance[spec.name];
        }),
        `instances[*].${spec.name}`,
      ),
    ),
  };
}

function decodeColumns(manifest: Manifest, columns: unknown): PredictPlan {
  const { inputs } = manifest.signature;
  const transform = manifest.transforms.input;
  if (Array.isArray(columns)) {
    if (transform && transform.kind !== 'tabular' && columns.length > 0 && columns.every((c) => isNaturalInstance(transform, c))) {
      return { kind: 'natural', instances: columns };
    }
    if (inputs.length !== 1) throw new BadRequestError(`inputs: the model takes several inputs (${inputs.map((s) => s.name).join(', ')}): send an object of named tensors`);
    return { kind: 'tensors', tensors: [rawTensor(inputs[0], columns, 'inputs')] };
  }
  if (!isRecord(columns)) throw new BadRequestError('inputs: expected a tensor (nested array) or an object of named tensors');
  const names = Object.keys(columns);
  if (transform?.kind === 'tabular' && names.every((n) => transform.features.some((f) => f.name === n))) {
    const lengths = names.map((n) => (Array.isArray(columns[n]) ? (columns[n] as unknown[]).length : -1));
    if (lengths.some((l) => l !== lengths[0] || l < 0)) throw new BadRequestError('inputs: every feature column must be an array of the same length');
    const instances = Array.from({ length: lengths[0] }, (_, r) => Object.fromEntries(names.map((n) => [n, (columns[n] as unknown[])[r]])));
    return { kind: 'natural', instances };
  }
  return { kind: 'tensors', tensors: names.map((name) => ({ ...rawTensor(inputs.find((s) => s.name === name) ?? inputs[0], columns[name], `inputs.${name}`), name })) };
}

export function decodeTfServing(manifest: Manifest, request: TfServingPredictRequest): PredictPlan & { columnar: boolean } {
  if ((request.instances === undefined) === (request.inputs === undefined)) {
    throw new BadRequestError('send exactly one of "instances" (row format) or "inputs" (columnar format)');
  }
  if (request.instances !== undefined) return { ...decodeInstances(manifest, request.instances), columnar: false };
  return { ...decodeColumns(manifest, request.inputs), columnar: true };
}

/** Plain arrays (TF Serving's own answer) or labelled answers, in row or columnar form. */
export function encodeTfServing(
  manifest: Manifest,
  outputs: TensorData[],
  options: { columnar: boolean; raw: boolean; topK?: number },
): z.infer<typeof tfServingPredictResponse> {
  const model_version = String(manifest.version);
  if (!options.raw) {
    const answers = toAnswers(manifest, outputs[0], options.topK);
    return options.columnar ? { outputs: answers, model_version } : { predictions: answers, model_version };
  }
  if (options.columnar) {
    const outputsBody = outputs.length === 1 ? nest(outputs[0].data, outputs[0].shape) : Object.fromEntries(outputs.map((t) => [t.name, nest(t.data, t.shape)]));
    return { outputs: outputsBody, model_version };
  }
  const perOutputRows = outputs.map((t) => nest(t.data, t.shape) as unknown[]);
  const rows = outputs[0].shape[0];
  const predictions = Array.from({ length: rows }, (_, r) =>
    outputs.length === 1 ? perOutputRows[0][r] : Object.fromEntries(outputs.map((t, i) => [t.name, perOutputRows[i][r]])),
  );
  return { predictions, model_version };
}
