/**
 * An upper estimate of one row's bytes at the fullest point of a forward pass through a layers
 * model, from its topology, before the pass is measured (runtime/memory.ts measures it on the
 * first row and uses the estimate only to refuse a row that cannot fit until then).
 *
 * tfjs-layers' predict frees a layer's output once the last layer that reads it has run, so not
 * every activation is alive at once: MobileNetV2 (224 x 224 x 3) sums 84 MB of activations, while
 * one row's measured peak is 26 MB. The estimate walks the layers as predict runs them (depth
 * first from the outputs), keeps each output alive from its layer to its last reader, and takes the
 * fullest moment: what is alive while a layer runs, plus its outputs (TEMPORARY_FACTOR times, for
 * what a layer makes on the way to them), plus a nested model's own peak when a layer is a model,
 * plus what layers before it left behind (HELD_TO_THE_END).
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

/**
 * A running layer's bytes against its outputs: the outputs and a temporary of their size (a bias
 * added after a product, an activation after it) alive at once inside the layer's tidy.
 */
const TEMPORARY_FACTOR = 2;

/**
 * Layers whose call leaves a temporary alive until the pass ends, in outputs' worth: tfjs-layers
 * (4.22) runs each layer's call in a tidy, but ReLU's and ThresholdedReLU's are not: ReLU with a
 * max_value (MobileNetV2's ReLU6) keeps relu's output, before the clip, to the end of predict, and
 * the 35 of MobileNetV2 hold 24 MB there, most of its measured 26 MB peak.
 */
const HELD_TO_THE_END: Record<string, (config: Record<string, unknown>) => number> = {
  ReLU: (config) => (config.maxValue == null ? 0 : 1),
  ThresholdedReLU: () => 2,
};

type Layer = SymbolicTensor['sourceLayer'];
interface LayerNode {
  inputTensors: SymbolicTensor[];
  outputTensors: SymbolicTensor[];
}

/** One row of a symbolic tensor in bytes (4 a value), undefined when a dimension besides the batch is free. */
function rowBytes(tensor: SymbolicTensor): number | undefined {
  const dims = tensor.shape.slice(1);
  if (dims.some((d) => d === null || d < 0)) return undefined;
  return (dims as number[]).reduce((a, b) => a * b, 1) * 4;
}

/** The node (a layer's call) that made this tensor. */
const nodeOf = (tensor: SymbolicTensor): LayerNode => (tensor.sourceLayer as unknown as { inboundNodes: LayerNode[] }).inboundNodes[tensor.nodeIndex];

const isModel = (layer: Layer): layer is LayersModel => Array.isArray((layer as Partial<LayersModel>).outputs) && Array.isArray((layer as Partial<LayersModel>).layers);

/** The nodes that make the model's outputs, each after the nodes that make its inputs, depth first from the outputs. */
function nodesInOrder(model: LayersModel): LayerNode[] {
  const order: LayerNode[] = [];
  const seen = new Set<LayerNode>();
  const visit = (tensor: SymbolicTensor) => {
    const node = nodeOf(tensor);
    if (seen.has(node)) return;
    seen.add(node);
    for (const input of node.inputTensors) visit(input);
    order.push(node);
  };
  for (const output of model.outputs) visit(output);
  return order;
}

/** The forward pass's peak bytes per row (undefined when the topology leaves a size free). */
export function forwardPeakBytesPerRow(model: LayersModel): number | undefined {
  const fed = new Set(model.inputs);
  const kept = new Set(model.outputs);
  const nodes = nodesInOrder(model);
  const readers = new Map<SymbolicTensor, number>();
  for (const node of nodes) for (const input of new Set(node.inputTensors)) readers.set(input, (readers.get(input) ?? 0) + 1);
  let alive = 0;
  for (const input of fed) {
    const bytes = rowBytes(input);
    if (bytes === undefined) return undefined;
    // The caller's tensor and predict's slice of it (its batch), both alive to the end.
    alive += 2 * bytes;
  }
  let peak = alive;
  for (const node of nodes) {
    if (node.inputTensors.length === 0) continue; // an input layer: fed, counted above
    let outputs = 0;
    for (const output of node.outputTensors) {
      const bytes = rowBytes(output);
      if (bytes === undefined) return undefined;
      outputs += bytes;
    }
    const layer = node.outputTensors[0].sourceLayer;
    const inner = isModel(layer) ? forwardPeakBytesPerRow(layer) : 0;
    if (inner === undefined) return undefined;
    // A layer may reshape its inputs and its weights while it runs (Dense does both for a batched product).
    const inputs = node.inputTensors.reduce((sum, input) => sum + (rowBytes(input) ?? 0), 0);
    const running = isModel(layer) ? inner + outputs : TEMPORARY_FACTOR * outputs + inputs + layer.countParams() * 4;
    peak = Math.max(peak, alive + running);
    alive += outputs + (HELD_TO_THE_END[layer.getClassName()]?.(layer.getConfig()) ?? 0) * outputs;
    for (const input of new Set(node.inputTensors)) {
      const left = (readers.get(input) ?? 1) - 1;
      readers.set(input, left);
      if (left === 0 && !fed.has(input) && !kept.has(input)) alive -= rowBytes(input) ?? 0;
    }
  }
  return peak;
}
