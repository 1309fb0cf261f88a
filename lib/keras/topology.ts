/**
 * A Keras model config (config.json of a `.keras` file, or the `model_config` attribute of a legacy
 * `.h5`) -> the Keras 2 topology TF.js layers reads (model.json's `modelTopology`).
 *
 * Keras 2 configs are already that shape. What Keras 3 (and the new saving format of Keras
 * 2.13-2.15) writes differently:
 * - every serialized object carries `module` and `registered_name`, layers `build_config`, the
 *   model `compile_config`: dropped;
 * - dtypes are `DTypePolicy` objects (`{"class_name": "DTypePolicy", "config": {"name": "float32"}}`):
 *   the policy's name, and only float32 (a mixed-precision model would need casts TF.js does not do);
 * - an input's shape is `batch_shape` where TF.js reads `batch_input_shape`;
 * - a functional model's `inbound_nodes` are `{"args": [...], "kwargs": {...}}` holding
 *   `__keras_tensor__` objects (with `keras_history: [layer, node, tensor]`) where Keras 2 wrote
 *   `[[layer, node, tensor, kwargs], ...]`; `input_layers`/`output_layers` may be one triple
 *   rather than a list of them;
 * - some regularizers have other class names (`L2`, `L1`).
 * Every initializer becomes Zeros: the file's weights replace whatever it would draw, and building
 * the model (at import and at each cold start) then skips drawing random weights, which for an
 * LSTM's Orthogonal initializer means a QR decomposition per layer (and TF.js's fails on some
 * backends). A regularizer or constraint TF.js does not know is an error (fine-tuning would differ).
 */
import { BadRequestError } from '../errors.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * How deep a config may nest. Every reader of it recurses (this conversion, TF.js's own
 * deserialization), so a deeper one would end in "Maximum call stack size exceeded" rather than a
 * message; real configs stay far below (a nested model, a wrapper and an initializer add about 4 levels each).
 */
const MAX_DEPTH = 200;

const tooDeep = (where: string) =>
  new BadRequestError(
    `the model config nests deeper than ${MAX_DEPTH} levels (at ${where.length > 120 ? `${where.slice(0, 120)}...` : where}): not a Keras model config TF.js can read`,
  );

/** Keys of the new serialization that TF.js neither reads nor needs. */
const DROPPED = new Set(['module', 'registered_name', 'build_config', 'compile_config', 'shared_object_id']);

/** An initializer, regularizer or constraint, as TF.js names it; `known` is TF.js's class registry. */
function component(key: string, value: JsonObject, known: ReadonlySet<string>, where: string, depth: number): Json {
  if (key.endsWith('_initializer')) return { class_name: 'Zeros', config: {} };
  const config = isObject(value.config) ? value.config : {};
  const name = value.class_name as string;
  if (key.endsWith('_regularizer') && (name === 'L2' || name === 'L1')) {
    return { class_name: 'L1L2', config: { l1: name === 'L1' ? (config.l1 ?? 0) : 0, l2: name === 'L2' ? (config.l2 ?? 0) : 0 } };
  }
  if (known.has(name)) return { class_name: name, config: convert(config, `${where}.config`, known, depth + 1) };
  throw new BadRequestError(`${where}: ${name} is not something TF.js has`);
}

const COMPONENT = /_(initializer|regularizer|constraint)$/;

function dtypeOf(value: Json, where: string): Json {
  if (!isObject(value)) return value;
  const name = isObject(value.config) ? value.config.name : undefined;
  if (typeof name !== 'string') throw new BadRequestError(`${where}: a dtype policy without a name`);
  if (name !== 'float32') throw new BadRequestError(`${where}: dtype policy ${name}: only float32 models can be imported (TF.js runs float32)`);
  return name;
}

/** A `__keras_tensor__` anywhere inside a node's args, in order: the layer outputs the node consumes. */
function kerasTensors(value: Json, where: string, depth: number, found: Json[][] = []): Json[][] {
  if (depth > MAX_DEPTH) throw tooDeep(where);
  if (Array.isArray(value)) for (const item of value) kerasTensors(item, where, depth + 1, found);
  else if (isObject(value)) {
    if (value.class_name === '__keras_tensor__' && isObject(value.config) && Array.isArray(value.config.keras_history)) {
      const [layer, node, tensor] = value.config.keras_history;
      found.push([layer, node, tensor, {}]);
    } else for (const item of Object.values(value)) kerasTensors(item, where, depth + 1, found);
  }
  return found;
}

/** Keras 3's `{"args", "kwargs"}` nodes -> Keras 2's `[[layer, node, tensor, kwargs], ...]`. */
function inboundNodes(nodes: Json, where: string, depth: number): Json {
  if (!Array.isArray(nodes)) return nodes;
  return nodes.map((node) => (isObject(node) && 'args' in node ? kerasTensors(node.args, where, depth + 1) : node));
}

/** `["input", 0, 0]` -> `[["input", 0, 0]]`. */
function triples(value: Json): Json {
  return Array.isArray(value) && typeof value[0] === 'string' ? [value] : value;
}

function convert(value: Json, where: string, known: ReadonlySet<string>, depth = 0): Json {
  if (depth > MAX_DEPTH) throw tooDeep(where);
  if (Array.isArray(value)) return value.map((item, i) => convert(item, `${where}[${i}]`, known, depth + 1));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (DROPPED.has(key)) continue;
    if (key === 'dtype') out.dtype = dtypeOf(item, `${where}.dtype`);
    else if (key === 'batch_shape') out.batch_input_shape = item;
    else if (key === 'inbound_nodes') out.inbound_nodes = inboundNodes(item, `${where}.inbound_nodes`, depth + 1);
    else if (key === 'input_layers' || key === 'output_layers') out[key] = triples(item);
    else if (COMPONENT.test(key) && isObject(item) && typeof item.class_name === 'string') out[key] = component(key, item, known, `${where}.${key}`, depth + 1);
    else out[key] = convert(item, typeof value.class_name === 'string' ? `${value.class_name}.${key}` : `${where}.${key}`, known, depth + 1);
  }
  return out;
}

/** The class names of every layer in the config, nested models included (to name what TF.js cannot run). */
export function layerClasses(config: unknown): string[] {
  const found: string[] = [];
  const visit = (value: Json) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isObject(value)) {
      const layers = isObject(value.config) ? value.config.layers : undefined;
      if (Array.isArray(layers)) {
        for (const layer of layers) {
          if (isObject(layer) && typeof layer.class_name === 'string') found.push(layer.class_name);
          visit(layer);
        }
      }
    }
  };
  visit(config as Json);
  return found;
}

/** model.json's `modelTopology` for the config; `kerasVersion` is recorded as Keras wrote it; `known`: TF.js's registered class names. */
export function tfjsTopology(config: unknown, kerasVersion: string, known: ReadonlySet<string>): JsonObject {
  if (!isObject(config) || typeof config.class_name !== 'string' || !isObject(config.config)) {
    throw new BadRequestError('the model config is not a Keras model (expected {"class_name": ..., "config": {...}})');
  }
  return { class_name: config.class_name, config: convert(config.config, config.class_name, known), keras_version: kerasVersion, backend: 'tensorflow' };
}
