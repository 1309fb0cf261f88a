/**
 * Instances (and backgrounds, and baselines) -> flat rows of model inputs, after the model's input
 * transform. Attributions are computed in this space and mapped back afterwards (mapping.ts).
 * Explanations need one numeric input: float32, what every demo model and most TF.js models take,
 * or int32 (MoveNet's image; a converted uint8 input is int32 too). The rows are float32 arrays
 * either way; an int32 input's instances and request backgrounds are whole numbers (natural ones cut
 * toward zero, as predict cuts them; raw ones refused unless whole), and every row the model is fed
 * is cut so (inputTensor.ts), backgrounds made for the request (a black image's encoding) too.
 * Only kernelShap explains an int32 input: no gradient exists along it.
 */
import { BadRequestError } from '../../errors.js';
import { checkOneForm, type EncodeBudget, encodeInstances, inputKindOf, type RunNeed } from '../../inputs/encode.js';
import type { Manifest } from '../../registry/index.js';
import { fitsShape, type TensorSpec } from '../../tensors/data.js';
import { anyRows } from '../../tensors/fixedBatch.js';
import { flattenNested, leafShown } from '../../tensors/nested.js';
import { checkValuesFit, declaredRange, firstMisfit } from '../../tensors/valueRanges.js';

export interface InputSpace {
  spec: TensorSpec;
  /** Shape of one row, without the batch dimension (known once a row has been seen). */
  rowShape: number[];
  /** Values per row. */
  size: number;
}

export interface Rows {
  data: Float32Array;
  count: number;
  /** Whether the values were natural instances (encoded by the transform) or raw tensor rows. */
  natural: boolean;
}

function singleNumericInput(manifest: Manifest): TensorSpec {
  const { inputs } = manifest.signature;
  if (inputs.length !== 1) throw new BadRequestError(`explanations need a model with one input; ${manifest.name} takes ${inputs.map((s) => s.name).join(', ')}`);
  const { dtype } = inputs[0];
  if (dtype !== 'float32' && dtype !== 'int32') throw new BadRequestError(`explanations need a float32 or int32 input; ${manifest.name}'s input ${inputs[0].name} is ${dtype}`);
  return inputs[0];
}

/**
 * Encodes a list of values as model-input rows; `where` names them in errors, `placeOf` each one
 * (a field of one value, explain's `baseline`, is named without an index); natural instances are
 * checked against the budget with `run` (what the explanation then holds).
 */
export async function encodeRows(
  manifest: Manifest,
  values: unknown[],
  where: string,
  budget: EncodeBudget,
  space?: InputSpace,
  run?: RunNeed,
  placeOf = (r: number) => `${where}[${r}]`,
): Promise<{ rows: Rows; space: InputSpace }> {
  const spec = space?.spec ?? singleNumericInput(manifest);
  const kind = inputKindOf(manifest);
  let shape: number[];
  let data: Float32Array;
  // One form for all, or a 400 naming the odd one (not the first a raw reading chokes on: often a valid instance).
  const natural = checkOneForm(manifest, values, placeOf);
  if (natural) {
    const encoded = await encodeInstances(manifest, values, budget, where, placeOf, { run });
    shape = encoded.shape;
    data = encoded.data instanceof Float32Array ? encoded.data : Float32Array.from(encoded.data as Int32Array); // an int32 input's, already cut
    const narrow = declaredRange(spec);
    if (narrow) checkValuesFit('int32', data, `${where} (${spec.declaredDtype})`, narrow);
  } else {
    const numbersOnly = (path: string, leaf: string | boolean) =>
      new BadRequestError(
        `${path}: expected numbers for input ${spec.name} (${spec.shape === null ? 'any shape' : `shape [${spec.shape}]`})${kind ? ` or natural ${kind.kind.kind} instances` : ''}, got ${leafShown(leaf)}`,
      );
    // An int32 input takes whole numbers only (a 400 naming the first that is not), as infer does.
    // A narrower integer the model declares (uint8) keeps its range, as infer keeps it (runModel.ts
    // checkInput): read as numbers, then judged whole and within it (a fraction named with 0..255, not int32's range).
    const narrow = declaredRange(spec);
    const flat = flattenNested(values, where, spec.dtype === 'int32' && !narrow ? 'int32' : 'float32', numbersOnly);
    if (narrow) checkValuesFit('int32', flat.data, `${where} (${spec.declaredDtype})`, narrow);
    shape = flat.shape;
    data = flat.data instanceof Float32Array ? flat.data : Float32Array.from(flat.data);
    // Flattened rows (the manifest's background format) of a model with a fully known row shape.
    const rowDims = spec.shape?.slice(1) ?? [];
    if (shape.length === 2 && rowDims.length > 1 && rowDims.every((d) => d > 0) && shape[1] === rowDims.reduce((a, b) => a * b, 1)) shape = [shape[0], ...rowDims];
  }
  // Any number of rows: a model of a fixed batch size is called with that many at a time (modelFunction.ts).
  if (!fitsShape(anyRows(spec.shape), shape)) throw new BadRequestError(`${where}: shape [${shape}] does not fit the model's input [${anyRows(spec.shape)}] (-1 = any size)`);
  const rowShape = shape.slice(1);
  if (space && rowShape.join() !== space.rowShape.join()) {
    throw new BadRequestError(
      `${where}: rows of shape [${rowShape}] (${data.length / values.length} values) do not match the instances' [${space.rowShape}] (${space.size} values)`,
    );
  }
  const size = rowShape.reduce((a, b) => a * b, 1);
  return { rows: { data, count: values.length, natural }, space: space ?? { spec, rowShape, size } };
}

/** One flat row given as numbers in model-input space (a baseline), checked for its length and that the input's dtype holds each value. */
export function flatRow(values: number[], space: InputSpace, where: string): Float32Array {
  if (values.length !== space.size) {
    throw new BadRequestError(`${where}: expected ${space.size} numbers (one row of model inputs, shape [${space.rowShape}]), got ${values.length}`);
  }
  // Checked as the input's dtype holds them (a background's rows are, by flattenNested): 1e39 is a
  // finite JSON number but Infinity in float32, and a baseline of Infinity explained as nulls.
  const misfit = firstMisfit(space.spec.dtype, values, declaredRange(space.spec));
  if (misfit) throw new BadRequestError(`${where}[${misfit.index}]: ${misfit.why}`);
  return Float32Array.from(values);
}
