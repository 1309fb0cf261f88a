/**
 * The task of a pushed model when none was given, read from what its first output computes: a
 * softmax (or sigmoid) gives probabilities, so the model classifies; any other activation gives
 * values, so it regresses. The output's width alone cannot tell (two regression targets are two
 * units too), so a wide output whose last operation is unknown is refused rather than guessed.
 */
import { BadRequestError } from '../errors.js';
import type { ModelJson } from '../registry/artifacts.js';
import type { Signature, Task } from '../registry/manifest.js';
import { lastDimension } from '../tensors/data.js';

/** What the first output holds: probabilities (of one or several classes), values, or unknown. */
type OutputKind = 'probabilities' | 'values' | undefined;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

const PROBABILITY_ACTIVATIONS = new Set(['softmax', 'log_softmax', 'sigmoid', 'hard_sigmoid']);
/** Layers whose class names their activation. */
const ACTIVATION_LAYERS: Record<string, OutputKind> = { Softmax: 'probabilities', ReLU: 'values', LeakyReLU: 'values', ELU: 'values', PReLU: 'values', ThresholdedReLU: 'values' };
/** Layers that pass their input's values on unchanged (reshaped at most): the layer before decides. */
const PASS_THROUGH = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
  'AlphaDropout',
  'GaussianDropout',
  'GaussianNoise',
  'Flatten',
  'Reshape',
  'Permute',
  'Masking',
  'ActivityRegularization',
]);
const NESTED_MODELS = new Set(['Sequential', 'Functional', 'Model']);
/** Wrappers whose output is their inner layer's (`config.layer`), concatenated or per time step. */
const WRAPPERS = new Set(['Bidirectional', 'TimeDistributed']);

function kindOfActivation(activation: unknown): OutputKind {
  if (activation === null || activation === 'linear') return 'values'; // Keras: activation=None is linear
  if (typeof activation !== 'string') return undefined;
  return PROBABILITY_ACTIVATIONS.has(activation) ? 'probabilities' : 'values';
}

/** A model config's layers and the name of its (first) output layer. */
function layersOf(config: unknown): { layers: Json[]; output?: string } {
  const layers = (Array.isArray(config) ? config : isObject(config) && Array.isArray(config.layers) ? config.layers : []).filter(isObject);
  const outputs = isObject(config) ? config.output_layers : undefined;
  // Functional: [[name, node, tensor], ...] (or one triple); Sequential: the last layer.
  const first = Array.isArray(outputs) ? (Array.isArray(outputs[0]) ? outputs[0][0] : outputs[0]) : undefined;
  return { layers, output: typeof first === 'string' ? first : ((layers.at(-1)?.config as Json | undefined)?.name as string | undefined) };
}

/** The layer feeding `layer` (its first inbound), for a pass-through layer of a functional model or the one before it in a sequential one. */
function previous(layers: Json[], layer: Json): Json | undefined {
  const inbound = layer.inbound_nodes;
  const first = Array.isArray(inbound) && Array.isArray(inbound[0]) && Array.isArray(inbound[0][0]) ? inbound[0][0][0] : undefined;
  if (typeof first === 'string') return layers.find((l) => (l.config as Json | undefined)?.name === first);
  const index = layers.indexOf(layer);
  return index > 0 ? layers[index - 1] : undefined;
}

function kindOfLayer(layers: Json[], layer: Json | undefined, depth = 0): OutputKind {
  if (!layer || depth > 50) return undefined;
  const className = String(layer.class_name);
  const config = isObject(layer.config) ? layer.config : {};
  if (className in ACTIVATION_LAYERS) return ACTIVATION_LAYERS[className];
  if (NESTED_MODELS.has(className)) return kindOfModel(config, depth + 1);
  if (WRAPPERS.has(className)) return kindOfLayer([], isObject(config.layer) ? config.layer : undefined, depth + 1);
  if (PASS_THROUGH.has(className)) return kindOfLayer(layers, previous(layers, layer), depth + 1);
  return 'activation' in config ? kindOfActivation(config.activation) : undefined;
}

function kindOfModel(config: unknown, depth = 0): OutputKind {
  const { layers, output } = layersOf(config);
  return kindOfLayer(
    layers,
    layers.find((l) => (l.config as Json | undefined)?.name === output),
    depth,
  );
}

/** A graph model: the op that computes the output, through identities. Only a softmax or sigmoid op is certain. */
function kindOfGraph(topology: Json, outputName: string): OutputKind {
  const nodes = (Array.isArray(topology.node) ? topology.node : []).filter(isObject);
  let name = outputName.replace(/:\d+$/, '');
  for (let hops = 0; hops < 50; hops += 1) {
    const node = nodes.find((n) => n.name === name);
    if (!node) return undefined;
    if (node.op === 'Softmax' || node.op === 'LogSoftmax' || node.op === 'Sigmoid') return 'probabilities';
    if (node.op !== 'Identity' && node.op !== 'StopGradient') return undefined;
    const input = Array.isArray(node.input) ? node.input[0] : undefined;
    if (typeof input !== 'string') return undefined;
    name = input.replace(/:\d+$/, '');
  }
  return undefined;
}

function outputKind(modelJson: ModelJson, signature: Signature): OutputKind {
  const topology = isObject(modelJson.modelTopology) ? modelJson.modelTopology : {};
  // The graph is walked from the output's node: its name may be a signature key (gender_output).
  if (modelJson.format === 'graph-model') return kindOfGraph(topology, signature.outputs[0].node ?? signature.outputs[0].name);
  // model.json as tensorflowjs_converter writes it nests the model under model_config; TF.js's own save does not.
  return kindOfLayer([], isObject(topology.model_config) ? topology.model_config : topology);
}

/**
 * Without a task: labels say classes (two for one unit: binary; one per unit: classification);
 * else the output's last activation decides. A single unit of unknown meaning is a value, as a
 * user reading one number expects; several are refused, since classes and targets look alike.
 */
export function guessTask(modelJson: ModelJson, signature: Signature, labels?: string[]): Task {
  const units = lastDimension(signature.outputs[0].shape);
  if (labels) return units <= 1 && labels.length === 2 ? 'binary' : 'classification';
  const kind = outputKind(modelJson, signature);
  if (kind === 'probabilities') return units === 1 ? 'binary' : 'classification';
  if (kind === 'values' || units <= 1) return 'regression'; // <= 1: one unit, or a width only known when run
  throw new BadRequestError(
    `cannot tell whether the model classifies or regresses: its output ${signature.outputs[0].name} has ${units} units and ends in neither a softmax nor a sigmoid; give the task (classification with its labels, or regression)`,
  );
}
