/**
 * The task of a pushed model when none was given, read from what its answer output computes (the
 * first of its signature: the model's first, or the one --output names): a
 * softmax (or sigmoid, or log_softmax) gives probabilities, so the model classifies; any other
 * activation gives values, so it regresses. The output's width alone cannot tell (two regression
 * targets are two units too), so a wide output whose last operation is unknown is refused rather
 * than guessed. The same reading says what a classifier's units hold (its scores): probabilities,
 * log-probabilities, or logits when the last layer has no activation.
 */
import { BadRequestError } from '../errors.js';
import type { ModelJson } from '../registry/artifacts.js';
import { distinctNames, type ScoreKind, type Signature, type Task } from '../registry/manifest.js';
import { isPerPosition, lastDimension } from '../tensors/data.js';

/**
 * What the answer output holds: probabilities (of one or several classes) or their logs, the output
 * of a linear layer (logits, for a classifier), other values, or unknown.
 */
type OutputKind = 'probabilities' | 'log-probabilities' | 'linear' | 'values' | undefined;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

const PROBABILITY_ACTIVATIONS = new Set(['softmax', 'sigmoid', 'hard_sigmoid']);
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
  if (activation === null || activation === 'linear') return 'linear'; // Keras: activation=None is linear
  if (typeof activation !== 'string') return undefined;
  if (activation === 'log_softmax') return 'log-probabilities';
  return PROBABILITY_ACTIVATIONS.has(activation) ? 'probabilities' : 'values';
}

/** A model config's layers and the names of its output layers, in order (one per output: a layer applied twice is there twice). */
function layersOf(config: unknown): { layers: Json[]; outputs: string[] } {
  const layers = (Array.isArray(config) ? config : isObject(config) && Array.isArray(config.layers) ? config.layers : []).filter(isObject);
  const given = isObject(config) ? config.output_layers : undefined;
  // Functional: [[name, node, tensor], ...] (or one triple); Sequential: the last layer.
  const triples = Array.isArray(given) ? (Array.isArray(given[0]) ? given : [given]) : [];
  const outputs = triples.map((t) => (Array.isArray(t) ? t[0] : undefined)).filter((name): name is string => typeof name === 'string');
  const last = (layers.at(-1)?.config as Json | undefined)?.name;
  return { layers, outputs: outputs.length > 0 ? outputs : typeof last === 'string' ? [last] : [] };
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

/**
 * The kind of the model's output `outputName` (as signatureOf names a layers model's outputs: by
 * their layers, made distinct, so the second use of a layer is head_1), else of its first output.
 * An output name none of its outputs has: unknown (the task must then be given).
 */
function kindOfModel(config: unknown, depth = 0, outputName?: string): OutputKind {
  const { layers, outputs } = layersOf(config);
  const at = outputName === undefined ? 0 : distinctNames(outputs).indexOf(outputName);
  if (at < 0) return undefined;
  return kindOfLayer(
    layers,
    layers.find((l) => (l.config as Json | undefined)?.name === outputs[at]),
    depth,
  );
}

/**
 * Graph ops whose output is linear in their input: a classifier ending in one gives logits (Einsum
 * is how Keras's EinsumDense converts; a Conv1D is a Conv2D between reshapes).
 */
const LINEAR_OPS = new Set(['MatMul', 'BatchMatMul', 'BatchMatMulV2', 'Einsum', 'Conv2D', 'Conv3D', 'DepthwiseConv2dNative', 'Conv2DBackpropInput']);
/**
 * Ops that add: a bias to a linear op's output (MatMul + b) is still linear, and so is a sum of
 * linear outputs (an ensemble of logits), but a sum of anything else is not logits: an ensemble
 * summing its members' softmaxes, pushed with labels, was read as logits and softmaxed again.
 */
const ADD_OPS = new Set(['BiasAdd', 'Add', 'AddV2', 'AddN', 'Sub']);
/**
 * Ops that scale: logits times or over a constant (a temperature), or negated, are still logits;
 * a product of two computed values is not linear.
 */
const SCALE_OPS = new Set(['Mul', 'RealDiv', 'Div', 'Neg']);
const DIVISIONS = new Set(['RealDiv', 'Div']);
/** The converter's fused ops: linear when what they fuse is at most a bias add (an activation they fuse makes them not). */
const FUSED_OPS = new Set(['_FusedMatMul', 'FusedMatMul', '_FusedConv2D', 'FusedConv2D', 'FusedDepthwiseConv2dNative']);
/** Ops that pass their first input's values on, reshaped at most: the op before decides. */
const PASS_THROUGH_OPS = new Set(['Identity', 'StopGradient', 'Reshape', 'Squeeze']);

/** The names a fused op fuses (model.json keeps them base64-encoded: BiasAdd, Relu, ...). */
function fusedOps(node: Json): string[] {
  const attr = isObject(node.attr) ? node.attr.fused_ops : undefined;
  const list = isObject(attr) && isObject(attr.list) && Array.isArray(attr.list.s) ? attr.list.s : [];
  return list.filter((s): s is string => typeof s === 'string').map((s) => Buffer.from(s, 'base64').toString());
}

/**
 * What one op makes of its inputs: a kind, or 'pass' (its first input's), 'add' (its computed
 * inputs' together) or 'scale' (its one computed input's).
 */
function kindOfGraphOp(node: Json): OutputKind | 'pass' | 'add' | 'scale' {
  const op = String(node.op);
  if (op === 'Softmax' || op === 'Sigmoid') return 'probabilities';
  if (op === 'LogSoftmax') return 'log-probabilities';
  if (PASS_THROUGH_OPS.has(op)) return 'pass';
  if (ADD_OPS.has(op)) return 'add';
  if (SCALE_OPS.has(op)) return 'scale';
  if (LINEAR_OPS.has(op) || (FUSED_OPS.has(op) && fusedOps(node).every((f) => f === 'BiasAdd'))) return 'linear';
  return undefined;
}

/** A node's data inputs, by node name (control inputs, ^name, order execution only). */
function inputsOf(node: Json): string[] {
  const inputs = Array.isArray(node.input) ? node.input : [];
  return inputs.filter((i): i is string => typeof i === 'string' && !i.startsWith('^')).map((i) => i.replace(/:\d+$/, ''));
}

/**
 * A graph model: the op that computes the output, through identities, reshapes, additions and
 * scalings. Only a softmax, sigmoid, log-softmax or linear op is certain; a constant (a bias, a
 * temperature) changes nothing of what an addition's or a scaling's other inputs are. Each node is read once (a residual network's additions branch at
 * every block).
 */
function kindOfGraph(topology: Json, outputName: string): OutputKind {
  const nodes = new Map<unknown, Json>((Array.isArray(topology.node) ? topology.node : []).filter(isObject).map((n) => [n.name, n]));
  const known = new Map<string, OutputKind | 'constant'>();
  const kindOf = (name: string, depth: number): OutputKind | 'constant' => {
    if (known.has(name)) return known.get(name);
    const node = nodes.get(name);
    if (!node || depth > 50) return undefined;
    let kind: OutputKind | 'constant';
    const op = kindOfGraphOp(node);
    if (node.op === 'Const') kind = 'constant';
    else if (op === 'pass') kind = inputsOf(node).length > 0 ? kindOf(inputsOf(node)[0], depth + 1) : undefined;
    else if (op === 'add' || op === 'scale') {
      const inputs = inputsOf(node).map((input) => kindOf(input, depth + 1));
      const computed = inputs.filter((k) => k !== 'constant');
      const linear = computed.length > 0 && computed.every((k) => k === 'linear');
      // A division is a scaling when what it divides is computed and its divisor constant (1 / logits is not linear).
      const divisorComputed = DIVISIONS.has(String(node.op)) && inputs[1] !== 'constant';
      kind = linear && (op === 'add' || (computed.length === 1 && !divisorComputed)) ? 'linear' : undefined;
    } else kind = op;
    known.set(name, kind);
    return kind;
  };
  const kind = kindOf(outputName.replace(/:\d+$/, ''), 0);
  return kind === 'constant' ? undefined : kind;
}

function outputKind(modelJson: ModelJson, signature: Signature): OutputKind {
  const topology = isObject(modelJson.modelTopology) ? modelJson.modelTopology : {};
  // The graph is walked from the output's node: its name may be a signature key (gender_output).
  if (modelJson.format === 'graph-model') return kindOfGraph(topology, signature.outputs[0].node ?? signature.outputs[0].name);
  // model.json as tensorflowjs_converter writes it nests the model under model_config; TF.js's own save does not.
  const top = isObject(topology.model_config) ? topology.model_config : topology;
  // A layers model's outputs are named by their layers (runtime/tfModel.ts signatureOf): the kind of the one answers read.
  return NESTED_MODELS.has(String(top.class_name)) && isObject(top.config) ? kindOfModel(top.config, 1, signature.outputs[0].name) : kindOfLayer([], top);
}

/**
 * Without a task: labels say classes (two for one unit: binary; one per unit: classification), and
 * so do scores given (class scores: one unit, binary); else the output's last activation decides. A
 * single unit of unknown meaning is a value, as a user reading one number expects; several are
 * refused, since classes and targets look alike.
 */
export function guessTask(modelJson: ModelJson, signature: Signature, labels?: string[], scores?: ScoreKind): Task {
  const { shape } = signature.outputs[0];
  const units = lastDimension(shape);
  // Values a pixel or position (a mask, keypoints), a sigmoid's or not, are answered whole, as values.
  if (!labels && !scores && isPerPosition(shape)) return 'regression';
  if (labels) return units <= 1 && labels.length === 2 ? 'binary' : 'classification';
  if (scores) return units === 1 ? 'binary' : 'classification';
  const kind = outputKind(modelJson, signature);
  if (kind === 'probabilities' || kind === 'log-probabilities') return units === 1 ? 'binary' : 'classification';
  // A layers model's linear last layer is a regression's, as Keras's LSTM forecasters have; a graph's
  // linear op is as often a classifier's logits (MobileNet's graph ends in one): unknown, as before.
  const values = kind === 'values' || (kind === 'linear' && modelJson.format !== 'graph-model');
  if (values || units <= 1) return 'regression'; // <= 1: one unit, or a width only known when run
  const others = signature.outputs.length > 1 ? `, or name another of its ${signature.outputs.length} outputs (--output)` : '';
  throw new BadRequestError(
    `cannot tell whether the model classifies or regresses: its output ${signature.outputs[0].name} (shape [${shape}]) has ${units} units and ends in neither a softmax nor a sigmoid; give the task (classification with its labels, or regression)${others}`,
  );
}

/**
 * What a classifier's units hold, when not given: log-probabilities after a log_softmax, logits
 * after a linear last layer, else probabilities (a softmax or sigmoid; an unknown last operation
 * is taken as they were before this was recorded). A regression's values have no scores.
 */
export function guessScores(modelJson: ModelJson, signature: Signature, task: Task): ScoreKind | undefined {
  if (task === 'regression') return undefined;
  const kind = outputKind(modelJson, signature);
  if (kind === 'log-probabilities') return kind;
  return kind === 'linear' ? 'logits' : 'probabilities';
}
