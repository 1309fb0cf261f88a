/**
 * Open Inference Protocol v2 `/infer` (KServe's predict API v2, also Triton's and MLServer's): named tensors
 * with shape, datatype and flat or nested data. Inputs named after a model input are raw tensors;
 * inputs named after tabular features (one column each), or one BYTES input for a text or image
 * model, go through the input transform. Classifiers also answer a `label` BYTES output.
 */
import { z } from 'zod';
import { BadRequestError, quoted } from '../errors.js';
import { utf8Text } from '../bytes.js';
import { inputKindOf, type ModelInput } from '../inputs/encode.js';
import { outputIndexNamed, type Manifest } from '../registry/manifest.js';
import { inputNamesMeant } from '../tensors/inputNames.js';
import { elementCount, type TensorData, type TensorSpec } from '../tensors/data.js';
import { flattenNested, leafShown } from '../tensors/nested.js';
import { checkValuesFit } from '../tensors/valueRanges.js';
import { checkFiniteOutput, topLabels } from './answers.js';
import { BytesElements, isBinaryData, type OutputTensor } from './binaryData.js';
import { classificationCount, classify } from './classification.js';
import { roundToHalves } from './half.js';
import { INTEGER_RANGES, jsonData, OIP_DATATYPES, OIP_TO_TF, declaredDatatypeOf, oipDatatypeOf, type OipDatatype } from './datatypes.js';

const parameters = z.record(z.string(), z.unknown()).optional();

/** What the binary data and classification extensions read from `parameters`, which a client may put beside it instead. */
const PARAMETER_NAMES = new Set(['binary_data_output', 'binary_data', 'binary_data_size', 'classification']);

/**
 * An object of the request with exactly the keys the protocol gives it: a key it does not know
 * was ignored without a word (a top-level `binary_data_output: true` answered JSON, and a large
 * answer a 413 that binary output avoids). A parameter put beside `parameters` is told where it goes.
 */
function strictObject<T extends z.ZodRawShape>(shape: T, where: string) {
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      return issue.keys
        .map((key) =>
          PARAMETER_NAMES.has(key)
            ? `${key} goes in ${where}'s parameters: {"parameters": {"${key}": ...}}`
            : `unknown key ${JSON.stringify(key)}: ${where} takes ${Object.keys(shape).join(', ')}`,
        )
        .join('; ');
    },
  });
}

/**
 * Only checked to be an array here: z.array(z.unknown()) would visit and copy every value (about
 * 60 ns each, 12 ms for a batch of 256 MNIST images), and decodeTensor checks each value anyway.
 * A typed array is what the binary extension (binaryData.ts) fills in from the body's bytes.
 */
const tensorData = z
  .custom<ArrayLike<unknown> | BytesElements>((value) => Array.isArray(value) || ArrayBuffer.isView(value) || value instanceof BytesElements, { message: 'expected an array' })
  .meta({ type: 'array', description: 'row-major values, flat or nested (absent when parameters.binary_data_size says the values follow the JSON in binary)' });

export const oipInferRequest = strictObject(
  {
    id: z.string().optional(),
    // The path names the model; clients write it in the body too (KServe's InferRequest.to_rest always does).
    model_name: z.string().optional().describe('the model the path names, if sent (another is a 400)'),
    model_version: z.string().optional().describe("the path's version, if sent (empty: none)"),
    parameters,
    inputs: z
      .array(
        strictObject(
          {
            name: z.string().min(1),
            shape: z.array(z.number().int().min(0)),
            datatype: z.enum(OIP_DATATYPES as [OipDatatype, ...OipDatatype[]]),
            parameters,
            data: tensorData.optional(),
          },
          'an input',
        ),
      )
      .min(1),
    outputs: z
      .array(strictObject({ name: z.string(), parameters }, 'an output'))
      .optional()
      .describe('which outputs to return (absent or empty: all)'),
  },
  'the request',
).describe('OIP v2 inference request');

export type OipInferRequest = z.infer<typeof oipInferRequest>;

const outputTensor = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  datatype: z.string(),
  parameters,
  data: z.array(z.unknown()),
});

export const oipInferResponse = z
  .object({
    model_name: z.string(),
    model_version: z.string(),
    id: z.string().optional(),
    parameters,
    outputs: z.array(outputTensor),
  })
  .describe('OIP v2 inference response');

export type OipInferResponse = z.infer<typeof oipInferResponse>;

/**
 * The body's `model_name` and `model_version`, where a client sends them beside the path (KServe's
 * client always sends the name): the path chooses the model, so a body naming another one is a
 * mistake told rather than answered by the path's model. A version the path does not name is
 * refused too: the alias would answer, not the version asked for.
 */
export function checkBodyNamesPath(request: Pick<OipInferRequest, 'model_name' | 'model_version'>, path: { model: string; version?: string }): void {
  if (request.model_name !== undefined && request.model_name !== path.model) {
    throw new BadRequestError(`model_name ${quoted(request.model_name)} is not the model the path names (${quoted(path.model)}): the path chooses the model`);
  }
  const version = request.model_version;
  if (version === undefined || version === '') return;
  if (path.version === undefined) {
    throw new BadRequestError(
      `model_version ${quoted(version)}: name the version in the path (/v2/models/${path.model}/versions/${version}/infer); this path is answered by the model's alias`,
    );
  }
  if (version.trim() === '' || Number(version) !== Number(path.version)) {
    throw new BadRequestError(`model_version ${quoted(version)} is not the version the path names (${path.version})`);
  }
}

/**
 * The extra output classifiers answer, one label per row: `label`, or `predicted_label` when the
 * model has an output of its own named so (a multi-output model's `label` head), as batch scoring
 * renames its answer columns (batch/output.ts answerColumns): one name, one output.
 */
export function labelOutputOf(manifest: Pick<Manifest, 'signature'>): string {
  let name = 'label';
  while (manifest.signature.outputs.some((o) => o.name === name)) name = `predicted_${name}`;
  return name;
}

/**
 * BYTES sent in binary, as text: invalid UTF-8 is refused (as batch and evaluate refuse it), not
 * read with replacement characters, and a leading byte-order mark is kept, as the same text sent in
 * JSON keeps it: a text means the same in binary and in JSON.
 */
function elementText(bytes: Uint8Array, where: string, element: number): string {
  const text = utf8Text(bytes);
  if (text === undefined) throw new BadRequestError(`${where}: BYTES element ${element} is not valid UTF-8 text`);
  return text;
}

/**
 * One input as tensor data. Values sent as binary (binaryData.ts) are flat already: typed arrays,
 * booleans for BOOL, or byte strings for BYTES, kept as bytes for an image model (`keepBytes`) and
 * read as UTF-8 text otherwise.
 */
function decodeTensor(input: OipInferRequest['inputs'][number], index: number, keepBytes: boolean): TensorData {
  const where = `inputs[${index}] (${input.name})`;
  const dtype = OIP_TO_TF[input.datatype];
  if (input.data === undefined) throw new BadRequestError(`${where}: no data (send "data", or parameters.binary_data_size with the values in binary after the JSON)`);
  if (input.parameters?.binary_data_size !== undefined) {
    // Values the binary reader did not fill in came as JSON "data"; a binary body refuses "data" beside
    // binary_data_size (binaryData.ts), so this request is plain JSON.
    if (!isBinaryData(input.data)) {
      throw new BadRequestError(
        `${where}: parameters.binary_data_size says the values follow the JSON in binary, but this request is plain JSON (no Inference-Header-Content-Length header): send the values in "data" without binary_data_size, or as binary with that header`,
      );
    }
    const values = input.data;
    if (!(values instanceof BytesElements)) return { name: input.name, dtype, shape: input.shape, data: values as TensorData['data'] };
    // Texts are decoded one element at a time, each element's view dropped as soon as it is read.
    // An image model's elements stay where they are in the body until their count is checked
    // (naturalInstances; other uses take views: eager), though TensorData names only scalars.
    const data = keepBytes ? (values as unknown as TensorData['data']) : Array.from({ length: values.length }, (_, i) => elementText(values.element(i), where, i));
    return { name: input.name, dtype, shape: input.shape, data };
  }
  if (!Array.isArray(input.data)) throw new BadRequestError(`${where}.data: expected an array`);
  const notANumber = (path: string, value: string | boolean) => new BadRequestError(`${path}: ${leafShown(value)} is not a number; datatype ${input.datatype} takes numbers`);
  // The datatype's own range from the first value the walk refuses: 1.5 as UINT8 is "not an integer in 0..255", not in int32's.
  const range = INTEGER_RANGES[input.datatype];
  const { data } = dtype === 'float32' || dtype === 'int32' ? flattenNested(input.data, `${where}.data`, dtype, notANumber, { range }) : flattenNested(input.data, `${where}.data`);
  if (input.datatype === 'FP16' && data instanceof Float32Array) roundToHalves(data, `${where}.data`);
  if (data.length !== elementCount(input.shape)) {
    throw new BadRequestError(`${where}: shape [${input.shape}] needs ${elementCount(input.shape)} values, data has ${data.length}`);
  }
  if (Array.isArray(data)) {
    const wrongType = dtype === 'string' ? data.findIndex((v) => typeof v !== 'string') : data.findIndex((v) => typeof v === 'string');
    if (wrongType >= 0) {
      const value = data[wrongType];
      const shown = typeof value === 'number' ? `the number ${value}` : leafShown(value);
      throw new BadRequestError(`${where}.data: element ${wrongType} is ${shown}; datatype ${input.datatype} takes ${dtype === 'string' ? 'strings' : 'true or false'}`);
    }
    // The protocol's JSON has BOOL as true and false (Triton refuses anything else there): a number
    // under BOOL is a client that named the wrong datatype, not a boolean to guess from 0 and 1.
    const notBool = input.datatype === 'BOOL' ? data.findIndex((v) => typeof v !== 'boolean') : -1;
    if (notBool >= 0) throw new BadRequestError(`${where}.data: element ${notBool} is the number ${data[notBool]}; datatype BOOL takes true or false`);
  }
  // flattenNested already holds numbers to float32 and int32; a narrower integer datatype sent is checked here (runModel's checkInput checks the model's dtype, and a narrower type the model declares).
  if (range) checkValuesFit(dtype, data, `${where}.data`, range);
  return { name: input.name, dtype, shape: input.shape, data };
}

/**
 * One input's values as natural instances (texts, images): a column of them, one a row (shape [N]
 * or [N, 1], as feature columns come), at least one, the input named when there is none. Another
 * shape declares something else, e.g. a row of the model's raw tensor sent as strings: its values
 * are not taken as that many instances.
 */
function naturalInstances(manifest: Manifest, tensor: TensorData, kind: string): ModelInput {
  const [rows, ...rest] = tensor.shape;
  if (rows === undefined || rest.length > 1 || rest.some((d) => d !== 1)) {
    const raw = manifest.signature.inputs.map((s) => `${s.name} as ${s.dtype} ${s.shape === null ? 'of any shape' : `[${s.shape}]`}`).join(', ');
    throw new BadRequestError(
      `inputs[0] (${tensor.name}): shape [${tensor.shape}] is not a column of ${kind} instances: model ${manifest.name} takes them one a row, shape [N] or [N, 1], or raw tensors (${raw})`,
    );
  }
  if (tensor.data.length === 0) throw new BadRequestError(`input ${tensor.name}: has no values: send at least one instance`);
  const data: unknown = tensor.data;
  // Messages name an instance as the element of the input it came in (OIP has no "instances").
  const where = `inputs[0] (${tensor.name})`;
  return { kind: 'instances', instances: data instanceof BytesElements ? data : Array.from(tensor.data), where, place: (i) => `${where}.data[${i}]` };
}

/** The tensor with an image model's binary BYTES elements as views (their uses other than as instances). */
function eager(tensor: TensorData): TensorData {
  const data: unknown = tensor.data;
  return data instanceof BytesElements ? { ...tensor, data: data.slice() as unknown as TensorData['data'] } : tensor;
}

/**
 * Raw tensors, binary BYTES made views only for a model with a string input: any other model's
 * inputs refuse the datatype (runModel's checkInput) before a value is read, and a million empty
 * elements sent to an image model as a raw tensor made 140 MB of views (230 MB at the peak) first.
 */
function rawTensors(manifest: Manifest, tensors: TensorData[]): TensorData[] {
  return manifest.signature.inputs.some((s) => s.dtype === 'string') ? tensors.map(eager) : tensors;
}

/** MLServer's content type for a raw tensor. */
const RAW_CONTENT_TYPE = 'np';

/** `where`: the object holding these parameters (an input), or undefined for the request's own. */
function contentTypeOf(parameters: Record<string, unknown> | undefined, where?: string): string | undefined {
  const value = parameters?.content_type;
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BadRequestError(`${where ? `${where}.` : ''}parameters.content_type: expected a string, got ${quoted(value)}`);
  return value;
}

/**
 * Feature columns (one input per feature, each [N] or [N, 1]) -> one record per row, as natural
 * instances; a row's messages name it as the element of every feature input (`inputs[*].data[r]`).
 */
function featureRecords(tensors: TensorData[], features: string[], modelInputs: string[]): ModelInput {
  const unknown = tensors.filter((t) => !features.includes(t.name)).map((t) => t.name);
  if (unknown.length) throw new BadRequestError(`unknown input(s) ${unknown.join(', ')}: send ${modelInputs.join(', ')} or the features ${features.join(', ')}`);
  const missing = features.filter((f) => !tensors.some((t) => t.name === f));
  if (missing.length) throw new BadRequestError(`missing input(s) ${missing.join(', ')}: feature inputs are one input per feature: ${features.join(', ')}`);
  const rows = tensors[0].shape[0];
  const odd = tensors.findIndex((t) => t.shape[0] !== rows || elementCount(t.shape) !== rows);
  if (odd >= 0) {
    const named = (i: number) => `inputs[${i}] (${tensors[i].name})`;
    throw new BadRequestError(`${named(odd)}: shape [${tensors[odd].shape}]: feature inputs each have shape [N] or [N, 1] with the same N (${named(0)}: ${rows})`);
  }
  const instances = Array.from({ length: rows }, (_, r) => Object.fromEntries(tensors.map((t) => [t.name, t.data[r]])));
  return { kind: 'instances', instances, where: 'inputs', place: (r) => `inputs[*].data[${r}]` };
}

/**
 * Which codec reads the inputs. A `parameters.content_type` decides first (MLServer's convention:
 * `np` on an input is a raw tensor; the input kind's own types, e.g. `str` for text or `base64` for
 * images, mean natural instances; `pd` on the request means one input per tabular feature). Without
 * one: inputs named after the model's inputs are raw tensors; one BYTES input of a text or image
 * model holds instances; inputs named after tabular features are feature columns.
 */
export function decodeOip(manifest: Manifest, request: OipInferRequest): ModelInput {
  const natural = inputKindOf(manifest);
  // Image bytes sent in binary stay bytes (the image kind reads them as they are).
  const keepBytes = natural?.kind.contentTypes.includes('base64') === true;
  const seen = new Set<string>();
  const twice = request.inputs.findIndex((input) => seen.size === seen.add(input.name).size);
  if (twice >= 0) throw new BadRequestError(`inputs[${twice}]: the name ${quoted(request.inputs[twice].name)} is used by an earlier input too`);
  // An output asked twice is refused as Triton refuses it ("already requested"): its two entries'
  // parameters (binary_data, classification) could disagree, and one answer cannot follow both.
  // The same output by two of its names (its key and its node, a name and its tensor's `:0`) is asked twice too.
  const asked = new Map<string, string>();
  const again =
    request.outputs?.findIndex((output) => {
      const meant = outputNamed(manifest, output.name);
      if (asked.has(meant)) return true;
      asked.set(meant, output.name);
      return false;
    }) ?? -1;
  if (again >= 0) {
    const name = request.outputs?.[again].name;
    const earlier = asked.get(outputNamed(manifest, name ?? ''));
    const as = earlier === name ? '' : ` (as ${quoted(earlier)})`;
    throw new BadRequestError(`outputs[${again}]: output ${quoted(name)} is already requested by an earlier entry${as}: ask for each output once`);
  }
  const modelInputs = manifest.signature.inputs.map((s) => s.name);
  // An input named by its tensor (`input_tensor:0`) is that input, as an output so named is.
  const names = inputNamesMeant(
    manifest.signature.inputs,
    request.inputs.map((input) => input.name),
    'inputs',
  );
  const tensors = request.inputs.map((input, i) => ({ ...decodeTensor(input, i, keepBytes), name: names[i] }));
  const features = natural?.kind.requiredColumns(natural.settings);
  const accepted = () => [RAW_CONTENT_TYPE, ...(natural ? natural.kind.contentTypes : [])].map((t) => JSON.stringify(t)).join(', ');

  const requestType = contentTypeOf(request.parameters);
  const inputTypes = request.inputs.map((input, i) => contentTypeOf(input.parameters, `inputs[${i}]`));
  if (requestType !== undefined && requestType !== RAW_CONTENT_TYPE) {
    if (!natural?.kind.contentTypes.includes(requestType) || !features) {
      throw new BadRequestError(`parameters.content_type ${quoted(requestType)} does not fit model ${manifest.name}: it accepts ${accepted()}`);
    }
    return featureRecords(tensors.map(eager), features, modelInputs);
  }
  if (inputTypes.some((t) => t !== undefined) || requestType === RAW_CONTENT_TYPE) {
    const types = inputTypes.map((t) => t ?? requestType ?? RAW_CONTENT_TYPE);
    if (types.every((t) => t === RAW_CONTENT_TYPE)) return { kind: 'tensors', tensors: rawTensors(manifest, tensors) };
    const bad = types.findIndex((t) => t !== RAW_CONTENT_TYPE && !natural?.kind.contentTypes.includes(t));
    if (bad >= 0) throw new BadRequestError(`inputs[${bad}].parameters.content_type ${quoted(types[bad])} does not fit model ${manifest.name}: it accepts ${accepted()}`);
    if (tensors.length !== 1) throw new BadRequestError(`natural instances come in one input; got ${tensors.length} inputs with content types ${types.join(', ')}`);
    return naturalInstances(manifest, tensors[0], natural?.kind.kind ?? 'natural');
  }

  // One BYTES input for a text or image model: raw strings or base64 images, whatever its name.
  if (natural && !features && tensors.length === 1 && tensors[0].dtype === 'string') return naturalInstances(manifest, tensors[0], natural.kind.kind);
  if (tensors.every((t) => modelInputs.includes(t.name))) return { kind: 'tensors', tensors: rawTensors(manifest, tensors) };
  if (features) return featureRecords(tensors.map(eager), features, modelInputs);
  throw new BadRequestError(`unknown input(s) ${tensors.map((t) => t.name).join(', ')}: the model takes ${modelInputs.join(', ')}`);
}

/**
 * Tensors as OIP output tensors (name, shape, datatype, flat data); a model input's tensor (what
 * /preprocess answers) with the narrower type the model declares (handtrack's UINT8, held as int32),
 * as metadata shows it.
 */
export function oipTensors(tensors: TensorData[], inputs: TensorSpec[]): OipInferResponse['outputs'] {
  return tensors.map((t) => {
    const declared = inputs.find((spec) => spec.name === t.name)?.declaredDtype;
    const datatype = declaredDatatypeOf({ dtype: t.dtype, declaredDtype: declared });
    return { name: t.name, shape: t.shape, datatype, data: jsonData(datatype, t.data) };
  });
}

/** The response with each output's values as computed (typed arrays): JSON or binary encoding comes after. */
export function oipResponse(
  manifest: Manifest,
  outputs: TensorData[],
  request: OipInferRequest,
): { model_name: string; model_version: string; id?: string; outputs: OutputTensor[] } {
  const all: OutputTensor[] = outputs.map((t) => ({ name: t.name, shape: t.shape, datatype: oipDatatypeOf(t.dtype), data: t.data }));
  // An empty list asks for nothing in particular: every output, as when it is absent (Triton reads it so).
  const asked = request.outputs?.length ? [...new Set(request.outputs.map((o) => o.name))] : undefined;
  const wanted = asked?.map((name) => outputNamed(manifest, name));
  const labelOutput = manifest.task === 'regression' ? undefined : labelOutputOf(manifest);
  const names = [...all.map((o) => o.name), ...(labelOutput ? [labelOutput] : [])];
  const unknown = wanted?.filter((name) => !names.includes(name)) ?? [];
  if (unknown.length) throw new BadRequestError(`unknown output(s) ${unknown.join(', ')}: the model answers ${names.join(', ')}`);
  // The label only when asked for (or everything is): raw outputs alone need no label read from them.
  if (labelOutput && (!wanted || wanted.includes(labelOutput))) {
    // A label from NaN scores would be an arbitrary class; the raw outputs alone carry them as they are.
    checkFiniteOutput(outputs[0], (r) => `row ${r}`);
    const labels = topLabels(manifest, outputs[0]);
    all.push({ name: labelOutput, shape: [labels.length], datatype: 'BYTES', data: labels });
  }
  // In the order asked (as Triton answers), each under the name it was asked by: an output asked for
  // by its node is looked up by that name.
  const answered = asked && wanted ? asked.map((name, i) => ({ ...(all.find((o) => o.name === wanted[i]) as OutputTensor), name })) : all;
  return {
    model_name: manifest.name,
    model_version: String(manifest.version),
    ...(request.id !== undefined ? { id: request.id } : {}),
    outputs: answered.map((o) => classifiedIfAsked(manifest, request, o)),
  };
}

/**
 * The output as Triton's classification extension answers it when the request asks so
 * (classification.ts); the manifest's labels name the indices of the classifier's output only.
 */
function classifiedIfAsked(manifest: Manifest, request: OipInferRequest, output: OutputTensor): OutputTensor {
  const index = request.outputs?.findIndex((o) => o.name === output.name) ?? -1;
  if (index < 0) return output;
  const where = `outputs[${index}] (${output.name})`;
  const k = classificationCount(request.outputs?.[index].parameters, `outputs[${index}]`);
  if (k === undefined) return output;
  const labels = manifest.task !== 'regression' && outputNamed(manifest, output.name) === manifest.signature.outputs[0].name ? manifest.labels : undefined;
  return classify(output, k, labels, where);
}

/**
 * The output a requested name means (registry/manifest.ts outputIndexNamed): an output's own name
 * (its signature key), else the one computed by that node (runtime/signatureKeys.ts), as versions
 * pushed before named it, or by the node whose tensor it names (`age_pred/Softmax:0`).
 */
function outputNamed(manifest: Manifest, name: string): string {
  const { outputs } = manifest.signature;
  if (name === labelOutputOf(manifest)) return name;
  return outputs[outputIndexNamed(outputs, name)]?.name ?? name;
}

export function encodeOip(manifest: Manifest, outputs: TensorData[], request: OipInferRequest): OipInferResponse {
  const response = oipResponse(manifest, outputs, request);
  return { ...response, outputs: response.outputs.map((o) => ({ ...o, data: jsonData(o.datatype, o.data) })) };
}
