/**
 * TF Serving REST `:classify` and `:regress` (api_rest.md, json_tensor.cc's
 * FillClassifyRegressRequestFromJson and MakeJsonFrom{Classification,Regression}Result): `examples`,
 * feature dictionaries (`context` holds features common to all, merged into each), read as the
 * natural instances `:predict` takes; answers `{"results": ...}`, scores and values written as
 * tensorflow_model_server writes floats. `results`, not api_rest.md's `result`: the server writes
 * `results` (json_tensor.cc's kClassifyRegressResponseKey and its tests; tensorflow/serving PR 3652
 * asks the doc to say so).
 */
import { z } from 'zod';
import { BadRequestError, quoted } from '../errors.js';
import { inputFromValues, inputKindOf, type ModelInput } from '../inputs/encode.js';
import type { Manifest } from '../registry/manifest.js';
import { rowValues, type Scalar, type TensorData, type TensorSpec } from '../tensors/data.js';
import { nest } from '../tensors/nested.js';
import { classScores } from './answers.js';
import { signatureName, tfServingRequest } from './tfserving.js';
import { tfServingFloat } from './tfServingJson.js';

/**
 * A feature dictionary, only checked to be an object: z.record copies it and drops a feature named
 * `__proto__`, which `:predict` reports as unknown; the kinds check each feature anyway.
 */
const features = z
  .custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), { message: 'expected a feature dictionary (an object)' })
  .meta({ type: 'object', additionalProperties: {} });

export const tfServingExamplesRequest = tfServingRequest({
  signature_name: signatureName.describe('the model\'s one signature, "serving_default" (or "")'),
  context: features.optional().describe('features common to every example, merged into each; a feature here must not be in an example'),
  examples: z
    .array(features)
    .min(1, 'is empty: send at least one example')
    .describe('one feature dictionary per example: a value a number, a string, {"b64": ...}, or a list of one of them'),
}).describe('TF Serving classify or regress request');

export type TfServingExamplesRequest = z.infer<typeof tfServingExamplesRequest>;

export const tfServingClassifyResponse = z
  .object({ results: z.array(z.array(z.tuple([z.string(), z.number()]))) })
  .describe("TF Serving classify response: each example's classes as [label, score], in the model's class order");

export const tfServingRegressResponse = z.object({ results: z.array(z.number()) }).describe('TF Serving regress response: one value per example');

export type ExamplesVerb = 'classify' | 'regress';

/** TF Serving refuses a signature of the other kind (a 400): a regression model has no classes, a classifier no one value. */
export function checkVerb(manifest: Manifest, verb: ExamplesVerb): void {
  const regression = manifest.task === 'regression';
  if (regression === (verb === 'regress')) return;
  const other = regression ? 'regress' : 'classify';
  throw new BadRequestError(
    `model ${manifest.name} is a ${manifest.task} model: :${verb} needs a ${verb === 'classify' ? 'classifier' : 'regression model'}; use :${other} (or :predict)`,
  );
}

/** The example's features with the context's, a feature in both refused (TF Serving's "MUST NOT appear in examples"). */
function merged(example: Record<string, unknown>, context: Record<string, unknown>, place: string): Record<string, unknown> {
  const both = Object.keys(example).filter((name) => Object.hasOwn(context, name));
  if (both.length > 0) throw new BadRequestError(`${place}: feature(s) ${both.join(', ')} also in "context": a feature in the context must not appear in an example`);
  return { ...context, ...example };
}

/** An Example's feature is a list: a list of one value is that value, as a scalar feature of the model takes it. */
function oneValue(value: unknown, place: string): unknown {
  if (!Array.isArray(value)) return value;
  if (value.length !== 1) throw new BadRequestError(`${place}: a list of ${value.length} values where the model takes one`);
  return value[0];
}

/**
 * The examples as the model's input, each read as `:predict` reads an instance: a tabular model's
 * example is its feature record; a text or image model's has one feature, named after its kind
 * (`text`, `image`), the text or the {"b64": ...} image; a model without an input kind takes its
 * inputs by name, as a row of `:predict`'s named inputs (byInputName).
 */
export function examplesInput(manifest: Manifest, request: TfServingExamplesRequest): ModelInput {
  const place = (i: number) => `examples[${i}]`;
  const examples = request.examples.map((example, i) => merged(example, request.context ?? {}, place(i)));
  const natural = inputKindOf(manifest);
  if (!natural) return { ...byInputName(manifest, examples, place), noun: 'examples' };
  const columns = natural.kind.requiredColumns(natural.settings);
  const instances = examples.map((example, i) => {
    const values = Object.entries(example).map(([name, value]) => [name, oneValue(value, `${place(i)}.${name}`)] as const);
    if (columns) return Object.fromEntries(values); // the kind names what is missing or unknown
    const name = natural.kind.kind;
    const others = values.filter(([n]) => n !== name).map(([n]) => n);
    if (others.length > 0) throw new BadRequestError(`${place(i)}: unknown feature(s) ${others.join(', ')}: model ${manifest.name} takes one feature, ${quoted(name)}`);
    if (values.length === 0) throw new BadRequestError(`${place(i)}: missing feature ${quoted(name)}, which model ${manifest.name} takes`);
    return values[0][1];
  });
  // The kind names a text or an image by where it is; a tabular kind, the example whose features are wrong.
  return { kind: 'instances', instances, place: columns ? place : (i) => `${place(i)}.${natural.kind.kind}`, noun: 'examples' };
}

/** An Example's feature is a flat list: laid out in the input's row shape when the signature fixes it, as TF's parse_example does. */
function rowOf(spec: TensorSpec, value: unknown): unknown {
  const row = spec.shape?.slice(1);
  if (!row || row.some((d) => d < 0) || !Array.isArray(value) || value.some(Array.isArray)) return value;
  return value.length === row.reduce((a, b) => a * b, 1) ? nest(value as Scalar[], row) : value;
}

/** A model without an input kind: each example names every input, its value a row of it (nested, or flat as an Example holds it). */
function byInputName(manifest: Manifest, examples: Record<string, unknown>[], place: (i: number) => string): ModelInput {
  const { inputs } = manifest.signature;
  const names = inputs.map((spec) => spec.name);
  const rows = examples.map((example, i) => {
    const unknown = Object.keys(example).filter((name) => !names.includes(name));
    const missing = names.filter((name) => !Object.hasOwn(example, name));
    const problems = [...(unknown.length ? [`unknown feature(s) ${unknown.join(', ')}`] : []), ...(missing.length ? [`missing ${missing.join(', ')}`] : [])];
    if (problems.length) throw new BadRequestError(`${place(i)}: ${problems.join('; ')} (the model takes ${names.join(', ')})`);
    return Object.fromEntries(inputs.map((spec) => [spec.name, rowOf(spec, example[spec.name])]));
  });
  return inputFromValues(manifest, rows, 'examples');
}

/** The answer's body and its JSON text as tensorflow_model_server writes it (floats by WriteDecimal<float>). */
export function examplesResult(manifest: Manifest, output: TensorData, verb: ExamplesVerb, examples: number): { body: unknown; jsonText: () => string } {
  // One result per example, as TF Serving's classifier and regressor read the output by its batch
  // dimension: an output of one value for all rows (a sum over the batch) would answer one example.
  const rows = output.shape.length === 0 ? 0 : output.shape[0];
  if (rows !== examples) {
    const why = output.shape.length === 0 ? 'is one value for all examples' : `has ${rows} rows for ${examples} examples`;
    throw new BadRequestError(`output ${output.name} ${why}: :${verb} answers each example; use :predict's columnar form ("inputs"), which answers it whole`);
  }
  const float = (x: number) => tfServingFloat(Math.fround(x));
  if (verb === 'regress') {
    // TF Serving's regress takes an output of shape [batch] or [batch, 1]: one value per example.
    const width = output.data.length / rows;
    if (width !== 1) throw new BadRequestError(`output ${output.name} has ${width} values per example: :regress answers one per example; use :predict`);
    const values = Array.from(output.data as ArrayLike<number>);
    return { body: { results: values }, jsonText: () => `{"results":[${values.map(float).join(',')}]}` };
  }
  const results = Array.from({ length: rows }, (_, r) => classScores(manifest, rowValues(output, r)).map(({ label, score }) => [label, score] as const));
  const text = () => `{"results":[${results.map((classes) => `[${classes.map(([label, score]) => `[${JSON.stringify(label)},${float(score)}]`).join(',')}]`).join(',')}]}`;
  return { body: { results }, jsonText: text };
}
