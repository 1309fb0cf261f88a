/**
 * One example through a model at push, on the backend the functions run (TFJS_BACKEND, wasm by
 * default): a model TF.js cannot run there (an op it does not know, an op the backend has no
 * kernel for, a graph TF.js fails on) is refused when it is pushed, with TF.js's words, instead of
 * being stored and answering every request with a 500. The same run says the output shapes a
 * graph's signature leaves out. The example is a row of zeros, which every model takes; a model
 * with an input of open size is tried at the size its natural input fixes (an image model pushed
 * with --image 100x100x3: MAXIM, whose sides must be multiples of 64, was stored and then failed
 * every request), else not tried.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Signature, TensorSpec } from '../registry/manifest.js';
import { withRecovery } from './recovery.js';
import { predictTensors, type TfModel } from './tfModel.js';

/** The first input's open dimensions taken from the row its natural input gives (`row`: an image's [height, width, channels]). */
function filledShape(shape: number[] | null, row: readonly number[] | undefined): number[] | null {
  if (shape === null || row === undefined || shape.length !== row.length + 1) return shape;
  // A row that does not fit the sizes the input fixes (channels last for an input of channels
  // first) makes no example: the push's check of fit names what would (registry/createVersion.ts).
  if (shape.some((d, i) => i > 0 && d >= 0 && d !== row[i - 1])) return shape;
  return shape.map((d, i) => (i > 0 && d < 0 ? row[i - 1] : d));
}

/**
 * One example for each input: a row of zeros of its dtype (the word 'example' for a string input;
 * its batch size when the signature fixes one), or undefined when an input's size is not all
 * known (an image model of any size: no one example is sure to be valid for it) and no natural
 * row (`naturalRow`, the first input's) fixes it.
 */
function exampleFeeds(inputs: TensorSpec[], naturalRow: readonly number[] | undefined, rows: number): tf.Tensor[] | undefined {
  const shapes = inputs.map((input, i) => (i === 0 ? filledShape(input.shape, naturalRow) : input.shape));
  if (shapes.some((shape) => shape === null || shape.slice(1).some((d) => d < 0))) return undefined;
  return inputs.map(({ dtype }, i) => {
    const known = shapes[i] as number[];
    const dims = known.length === 0 ? [] : [(known[0] as number) > 0 ? (known[0] as number) : rows, ...known.slice(1)];
    if (dtype !== 'string') return tf.zeros(dims, dtype);
    return tf.tensor(new Array<string>(dims.reduce((a, b) => a * b, 1)).fill('example'), dims, 'string');
  });
}

/** The dtypes a manifest holds (TF.js's complex64 is not one: such an output keeps what the signature says). */
const MANIFEST_DTYPES: readonly string[] = ['float32', 'int32', 'bool', 'string'];

/** An output as the example answered it. */
interface Answered {
  shape: number[];
  dtype: TensorSpec['dtype'];
}

/**
 * Runs the example: its outputs' shapes and dtypes, or undefined when no example can be made. Throws what
 * TF.js throws (the caller says it is the model's problem).
 */
export async function runExample(
  model: TfModel,
  signature: Signature,
  naturalRow?: readonly number[],
  rows = 1,
  options: { scoped?: boolean } = {},
): Promise<Answered[] | undefined> {
  // A model with no inputs or outputs is refused for that, by name (pushFolder.ts checkSignatureUsable).
  if (signature.inputs.length === 0 || signature.outputs.length === 0) return undefined;
  // At push, a scope: executeAsync leaves what it computed behind when it throws, and a refused
  // model is what this run is for; nothing else runs in a push's process meanwhile. Not in a
  // serving function (`scoped: false`), where other loads and requests run between its awaits and
  // a scope's end would dispose their tensors: there its feeds and outputs are disposed by hand,
  // and a refused version's leftovers stay, once (the loader remembers the refusal).
  const scoped = options.scoped ?? true;
  if (scoped) tf.engine().startScope();
  let feeds: tf.Tensor[] | undefined;
  let outputs: tf.Tensor[] = [];
  try {
    feeds = exampleFeeds(signature.inputs, naturalRow, rows);
    if (!feeds) return undefined;
    outputs = await predictTensors(model, feeds);
    // Read back: an asynchronous backend fails when its results are read, not when they are asked for.
    await Promise.all(outputs.map((t) => t.data()));
    return outputs.map((t) => ({ shape: t.shape, dtype: t.dtype as TensorSpec['dtype'] }));
  } finally {
    if (scoped) tf.engine().endScope();
    else tf.dispose([...(feeds ?? []), ...outputs]);
  }
}

/**
 * The signature with its outputs' shapes as the model answers them: an output's shape the signature
 * leaves out is the example's (any rows: -1), and an output the signature says is of one row
 * (tensorflowjs_converter writes the shapes of the one example it traced: human's faceres says
 * [1, 100] for an input of [-1, 224, 224, 3]) is of any rows when a second example of two rows
 * answers two of it. An output of one row whatever the rows (a sum over them) stays of one.
 */
export async function exampleSignature(model: TfModel, signature: Signature, naturalRow?: readonly number[]): Promise<Signature> {
  const answered = await runExample(model, signature, naturalRow);
  if (!answered) return signature;
  const openRows = (signature.inputs[0]?.shape?.[0] ?? -1) < 0;
  const oneRow = signature.outputs.map((o, i) => openRows && o.shape?.[0] === 1 && answered[i]?.shape[0] === 1);
  // The second run never fails the push: a model that runs one row and not two keeps its signature
  // as it says (its batches fail as they would anyway), and so does one whose two rows do not fit
  // the backend's memory (a large image model: the backend is then started afresh).
  const twoRows = oneRow.some(Boolean) ? await withRecovery(() => runExample(model, signature, naturalRow, 2)).catch(() => undefined) : undefined;
  const outputs = signature.outputs.map((o, i) => {
    const answer = answered[i];
    if (!answer) return o;
    // The dtype the output has: a signature that names an output only (human's faceboxes' num_boxes,
    // an int32) left it to be read as float32.
    const typed = MANIFEST_DTYPES.includes(answer.dtype) ? { ...o, dtype: answer.dtype } : o;
    const { shape } = answer;
    if (o.shape === null || o.shape.length === 0) return { ...typed, shape: shape.length === 0 ? [] : [-1, ...shape.slice(1)] };
    return oneRow[i] && twoRows?.[i]?.shape[0] === 2 ? { ...typed, shape: [-1, ...o.shape.slice(1)] } : typed;
  });
  return { ...signature, outputs };
}
