/**
 * Names a client gives a model's inputs: an input's own name, or its tensor's (`input_tensor:0`, as
 * model.json's signature keys a graph's inputs), as outputs are named by their tensors too
 * (registry/manifest.ts outputIndexNamed). Every protocol's reader of inputs by name uses these.
 */
import { BadRequestError } from '../errors.js';
import type { TensorSpec } from './data.js';

/** The input a client's name means (its name, or its tensor's), undefined: none. */
function inputNamed(inputs: TensorSpec[], name: string): string | undefined {
  if (inputs.some((s) => s.name === name)) return name;
  if (!name.endsWith(':0')) return undefined;
  const node = name.slice(0, -2);
  return inputs.find((s) => s.name === node)?.name;
}

/**
 * Values keyed by input name (a TF Serving row or columnar `inputs`, OIP inputs) with each key
 * that names an input by its tensor (`x:0`) read as that input's name; the same object when no key
 * does. An input named twice (`x` and `x:0`) is a 400 naming `where`.
 */
export function keyedByInputName<T>(inputs: TensorSpec[], record: Record<string, T>, where: string): Record<string, T> {
  if (!namesATensor(inputs, record)) return record;
  const keys = Object.keys(record);
  const meant = inputNamesMeant(inputs, keys, where);
  return Object.fromEntries(keys.map((key, i) => [meant[i], record[key]]));
}

/**
 * Each name as the input it means, in the order given (a list, not an object's keys, which
 * JavaScript orders with number-like names first). Two names of one input are a 400 naming `where`.
 */
export function inputNamesMeant(inputs: TensorSpec[], names: string[], where: string): string[] {
  const meant = names.map((name) => inputNamed(inputs, name) ?? name);
  const twice = meant.findIndex((name, i) => meant.indexOf(name) !== i);
  if (twice >= 0) throw new BadRequestError(`${where}: ${names[twice]} and ${names[meant.indexOf(meant[twice])]} name the same input, ${meant[twice]}: send it once`);
  return meant;
}

/** Whether a key of the record names an input by its tensor (`x:0`), not by the input's name. */
export function namesATensor(inputs: TensorSpec[], record: Record<string, unknown>): boolean {
  return Object.keys(record).some((key) => key.endsWith(':0') && !inputs.some((s) => s.name === key));
}
