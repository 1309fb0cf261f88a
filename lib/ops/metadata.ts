/** Model metadata as OIP v2 and TF Serving describe it, plus our extension fields. */
import { readOrStale, type LoadedModel } from '../loader/index.js';
import type { ObjectStore } from '../store/index.js';
import { listAliases, listModels, listVersions, type Manifest, type TensorSpec } from '../registry/index.js';
import { inputKindOf } from '../inputs/encode.js';
import { declaredDatatypeOf } from '../protocol/datatypes.js';
import { labelOutputOf } from '../protocol/oip.js';
import { isLayersModel } from '../runtime/tfModel.js';
import { anyRows, fixedBatchOf } from '../tensors/fixedBatch.js';
import { listEvaluations } from './evaluations.js';

export interface LayerSummary {
  name: string;
  type: string;
  outputShape: unknown;
  params: number;
}

function layerSummary(loaded: LoadedModel): { layers?: LayerSummary[]; totalParams?: number } {
  if (!isLayersModel(loaded.model)) return {};
  const layers = loaded.model.layers.map((layer) => ({
    name: layer.name,
    type: layer.getClassName(),
    outputShape: layer.outputShape,
    params: layer.countParams(),
  }));
  return { layers, totalParams: loaded.model.countParams() };
}

/**
 * OIP v2 has no unknown rank: a shape is a list of sizes, -1 for a variable one, and [] a scalar.
 * An input or output of unknown rank shows [-1], any number of values (the loosest shape the
 * protocol can say; sent in any shape, it is taken), and the parameter unknown_rank (an extension,
 * as TF Serving's field is named) says that the rank is free too.
 */
function oipTensor(spec: TensorSpec, parameters: Record<string, unknown> = {}) {
  const all = spec.shape === null ? { unknown_rank: true, ...parameters } : parameters;
  // A narrower integer the model declares (uint8) by its own name: TF.js holds it as int32, and a client sends what the model takes.
  const datatype = declaredDatatypeOf(spec);
  return { name: spec.name, datatype, shape: spec.shape ?? [-1], ...(Object.keys(all).length > 0 ? { parameters: all } : {}) };
}

/**
 * What the store says about a model besides the model loaded: its versions, aliases and saved
 * evaluations. While the store cannot be read (a reason that may pass), the model in memory still
 * answers, as predict does: `versions` holds the version loaded only, aliases and evaluations are
 * left out, and `stale: true` says so.
 */
function registryView(store: ObjectStore, manifest: Manifest) {
  const read = async () => {
    const [versions, aliases, evaluations] = await Promise.all([
      listVersions(store, manifest.name),
      listAliases(store, manifest.name),
      listEvaluations(store, manifest.name, manifest.version),
    ]);
    return { versions: versions.map(String), aliases, ...evaluations };
  };
  return readOrStale(manifest.name, read, () => ({ versions: [String(manifest.version)], stale: true as const }));
}

/**
 * The signature as requests take it and answers give it. A model whose signature fixes the batch
 * size (MoveNet's [1, 192, 192, 3]) is fed any number of rows in calls of that many (runModel.ts),
 * and its answers joined: when every output is one row per call's row of a fixed size, its inputs
 * and outputs take and answer any number of rows, -1 there, as a client that checks answers against
 * the metadata (Triton's, KServe's) reads it. Outputs of sizes a call decides (a detector's boxes
 * kept, [1, -1]) join only when every call answers the same size, so such a model keeps its declared
 * shapes: a request of that many rows is what it always takes.
 */
function servedSignature(manifest: Manifest): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const { inputs, outputs } = manifest.signature;
  const batch = fixedBatchOf(inputs);
  const joined = (spec: TensorSpec) => spec.shape !== null && spec.shape.length > 0 && spec.shape[0] === batch && spec.shape.slice(1).every((d) => d > 0);
  if (batch === undefined || !outputs.every(joined)) return { inputs, outputs };
  const free = (spec: TensorSpec) => ({ ...spec, shape: anyRows(spec.shape) as number[] | null });
  return { inputs: inputs.map(free), outputs: outputs.map(free) };
}

/** What a model's input itself takes, when its signature fixes its batch size. */
const fixedBatchParameter = (spec: TensorSpec) => (spec.shape !== null && spec.shape.length > 0 && spec.shape[0] > 0 ? { fixed_batch_size: spec.shape[0] } : {});

export async function oipModelMetadata(store: ObjectStore, loaded: LoadedModel) {
  const { manifest } = loaded;
  const { versions, ...registry } = await registryView(store, manifest);
  const served = servedSignature(manifest);
  return {
    name: manifest.name,
    versions,
    platform: `tensorflowjs_${manifest.format}`,
    inputs: served.inputs.map((spec, i) => oipTensor(spec, { ...fixedBatchParameter(manifest.signature.inputs[i]), ...(i === 0 ? rawTensorParameters(manifest) : {}) })),
    // Every output infer can answer: a classifier's also include the label it adds (oip.ts labelOutputOf).
    outputs: [...served.outputs.map((spec) => oipTensor(spec)), ...(manifest.task === 'regression' ? [] : [{ name: labelOutputOf(manifest), datatype: 'BYTES', shape: [-1] }])],
    // Extensions (OIP allows extra fields): what a client needs to send natural inputs and read answers.
    version: String(manifest.version),
    ...registry,
    task: manifest.task,
    answerOutput: manifest.signature.outputs[0].name,
    scores: manifest.scores,
    labels: manifest.labels,
    description: manifest.description,
    naturalInput: naturalInputSummary(manifest),
    metrics: manifest.metrics,
    lineage: manifest.lineage,
    createdAt: manifest.createdAt,
    ...layerSummary(loaded),
  };
}

/**
 * For a raw-tensor client (KServe, Triton): in plain words, what the first input's values must
 * already be, since raw tensors skip the model's input kind (e.g. a standardisation done outside
 * the model), and the content types that send natural instances instead (comma-separated: OIP's
 * parameter values are strings, numbers or booleans, never lists).
 */
function rawTensorParameters(manifest: Manifest): Record<string, unknown> {
  const natural = inputKindOf(manifest);
  if (!natural) return {};
  return {
    raw_tensor: natural.kind.rawTensorNote(natural.settings),
    natural_input: natural.kind.instanceHelp(natural.settings),
    content_types: natural.kind.contentTypes.join(','),
  };
}

/** What natural instances look like for this model, without the whole vocabulary. */
function naturalInputSummary(manifest: Manifest): unknown {
  const natural = inputKindOf(manifest);
  return natural?.kind.describe(natural.settings);
}

const TF_DTYPES: Record<string, string> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL', string: 'DT_STRING' };

/**
 * A TensorInfo as TF Serving prints it: its TensorShapeProto says an unknown rank in unknown_rank,
 * with no dims; its name is the graph's (an output keyed gender_output is computed by Identity_1).
 * TF Serving prints protobuf JSON with every primitive field, so each dim has its empty `name`.
 */
function tfServingTensor(spec: TensorSpec) {
  const dim = (spec.shape ?? []).map((size) => ({ size: String(size), name: '' }));
  const dtype = spec.declaredDtype === undefined ? TF_DTYPES[spec.dtype] : `DT_${spec.declaredDtype.toUpperCase()}`;
  return { dtype, tensor_shape: { dim, unknown_rank: spec.shape === null }, name: spec.node ?? spec.name };
}

/** GET /v1/models/{m}/metadata: a SignatureDef map with one `serving_default` signature. */
export function tfServingMetadata(manifest: Manifest) {
  const byName = (specs: TensorSpec[]) => Object.fromEntries(specs.map((s) => [s.name, tfServingTensor(s)]));
  const served = servedSignature(manifest);
  return {
    model_spec: { name: manifest.name, signature_name: '', version: String(manifest.version) },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: { inputs: byName(served.inputs), outputs: byName(served.outputs), method_name: 'tensorflow/serving/predict' },
        },
      },
    },
  };
}

/** GET /v2/models: every model with its versions and aliases. */
export async function listModelSummaries(store: ObjectStore) {
  const names = await listModels(store);
  const models = await Promise.all(
    names.map(async (name) => {
      const [versions, aliases] = await Promise.all([listVersions(store, name), listAliases(store, name)]);
      return { name, versions: versions.map(String), latest: String(versions[versions.length - 1]), aliases };
    }),
  );
  return { models };
}
