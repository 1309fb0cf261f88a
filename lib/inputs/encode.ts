/**
 * What every operation and both protocols share to turn what a client sent into the model's input
 * tensors: natural instances go through the model's input kind (encodeInstances); anything else is
 * a raw tensor row, checked against the signature. Pure: no I/O, no TF.js (plain typed arrays).
 */
import { BadRequestError, PayloadTooLargeError } from '../errors.js';
import type { TensorData, TensorSpec } from '../tensors/data.js';
import { flattenNested, type RowsOf } from '../tensors/nested.js';
import { csvNumber } from './csvCells.js';
import type { InputKind, KindSettings } from './kind.js';
import { kindOf } from './kinds.js';

/** The parts of a manifest that say what the model takes. */
export interface ModelInputs {
  name: string;
  signature: { inputs: TensorSpec[] };
  transforms: { input?: KindSettings };
}

/** What a request asks to run: raw tensors, or natural instances for the model's input kind. */
export type ModelInput = { kind: 'tensors'; tensors: TensorData[] } | { kind: 'instances'; instances: unknown[]; place?: (index: number) => string };

/** The model's input kind and its settings, or undefined for a model that takes raw tensors only. */
export function inputKindOf(model: ModelInputs): { kind: InputKind; settings: KindSettings } | undefined {
  const settings = model.transforms.input;
  return settings ? { kind: kindOf(settings), settings } : undefined;
}

/** The memory an operation may take now (runtime/memory.ts's MemoryBudget), its figures in words, and the function size (MB) `bytes` would fit in. */
export interface EncodeBudget {
  available(): number;
  describe(): string;
  functionSizeFor(bytes: number): number;
  /** The setting that sizes the function (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, or the job worker's). */
  readonly sizeSetting: string;
}

const megabytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/**
 * Natural instances -> the model's (first) input tensor, through its input kind. The rows are
 * encoded into one array, so its size is checked against `budget` first: a small instance can
 * make a large row (a 1 x 1 PNG is 602 KB of a 224 x 224 x 3 model's input), and a few MB of
 * request would otherwise ask for gigabytes. A 413 names the largest number of instances that fits.
 */
export async function encodeInstances(
  model: ModelInputs,
  instances: unknown[],
  budget: EncodeBudget,
  where = 'instances',
  placeOf = (index: number) => `${where}[${index}]`,
): Promise<TensorData> {
  const input = inputKindOf(model);
  if (!input) throw new BadRequestError(`${where}: model ${model.name} has no input transform: send raw tensors`);
  if (instances.length === 0) throw new BadRequestError(`${where}: is empty: send at least one instance`);
  const rowShape = input.kind.rowShape(input.settings);
  if (instances.length * rowBytesOf(rowShape) > budget.available()) throw tooMany(where, instances.length, rowShape, budget);
  const data = await input.kind.encode(input.settings, instances, placeOf);
  const [spec] = model.signature.inputs;
  const shape = [instances.length, ...rowShape];
  // A model that takes int32 (MoveNet takes its image so) gets the values cut toward zero, as its
  // authors' tf.cast(resized, 'int32') does; not a 400 saying the client sent float32.
  if (spec.dtype === 'int32') return { name: spec.name, dtype: 'int32', shape, data: Int32Array.from(data, Math.trunc) };
  return { name: spec.name, dtype: 'float32', shape, data };
}

const rowBytesOf = (rowShape: number[]) => 4 * rowShape.reduce((a, b) => a * b, 1);

function tooMany(where: string, count: number, rowShape: number[], budget: EncodeBudget): PayloadTooLargeError {
  const rowBytes = rowBytesOf(rowShape);
  const fit = Math.floor(budget.available() / rowBytes);
  return new PayloadTooLargeError(
    `${where}: ${count === 1 ? 'one instance makes' : `${count} instances make`} ${megabytes(count * rowBytes)} of model input (${megabytes(rowBytes)} each, shape [${rowShape}]); ` +
      `this function can give ${budget.describe()}: ` +
      (fit > 0
        ? `at most ${fit} instances fit at once`
        : `not even one fits; a function of at least ${budget.functionSizeFor(rowBytes)} MB (${budget.sizeSetting}) would take one`),
  );
}

/**
 * How many natural instances to encode at once now: as many as fit `budget`, at most `maxRows`.
 * Never less than one: a row that does not fit is refused by encodeInstances, with the figures.
 * Work that takes rows a chunk at a time (evaluate) asks it before each chunk, so a request of
 * more rows than fit at once runs instead of being refused as a whole.
 */
export function instancesPerChunk(model: ModelInputs, budget: EncodeBudget, maxRows: number): number {
  const bytes = instanceBytes(model);
  return bytes === undefined ? maxRows : Math.max(1, Math.min(maxRows, Math.floor(budget.available() / bytes)));
}

/** The bytes one natural instance makes of the model's input; undefined for a model of raw tensors only. */
export function instanceBytes(model: ModelInputs): number | undefined {
  const input = inputKindOf(model);
  return input && rowBytesOf(input.kind.rowShape(input.settings));
}

/** A 413, as encodeInstances gives, when not even one natural instance fits `budget`. */
export function checkOneInstanceFits(model: ModelInputs, budget: EncodeBudget, where = 'instances'): void {
  const input = inputKindOf(model);
  const rowShape = input?.kind.rowShape(input.settings);
  if (rowShape && rowBytesOf(rowShape) > budget.available()) throw tooMany(where, 1, rowShape, budget);
}

/** A nested array of values for one model input, as a tensor of the input's dtype; `rows` names and shapes a chunk's rows. */
export function rawTensor(spec: TensorSpec, value: unknown, where: string, rows?: RowsOf): TensorData {
  const numbersOnly = () =>
    new BadRequestError(`${where}: expected numbers for input ${spec.name} (${spec.dtype}, ${spec.shape === null ? 'any shape' : `shape [${spec.shape}]`})`);
  if (spec.dtype === 'float32' || spec.dtype === 'int32') {
    const { shape, data } = flattenNested(value, where, spec.dtype, numbersOnly, rows);
    return { name: spec.name, dtype: spec.dtype, shape, data };
  }
  const { shape, data } = flattenNested(value, where, undefined, undefined, rows);
  if (spec.dtype !== 'string' && data.some((v) => typeof v === 'string')) throw numbersOnly();
  return { name: spec.name, dtype: spec.dtype, shape, data };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A list of values, one per row: natural instances when every one is one, else raw tensor rows
 * (one nested array per row, or for a model with several inputs, an object of rows by input name).
 * `placeOf` names a value in messages (a chunk of a data set: its line in the file; of a request:
 * its index in the request). `rowShapes`, one per input, is the shape of the rows of the chunks
 * before this one: a raw row that differs is the one named, even when it opens the chunk.
 */
export function inputFromValues(model: ModelInputs, values: unknown[], where = 'instances', placeOf = (index: number) => `${where}[${index}]`, rowShapes?: number[][]): ModelInput {
  if (values.length === 0) throw new BadRequestError(`${where} is empty: send at least one instance`);
  const { inputs } = model.signature;
  const input = inputKindOf(model);
  if (input) {
    const natural = values.map((v) => input.kind.isInstance(input.settings, v));
    if (natural.every(Boolean)) return { kind: 'instances', instances: values, place: placeOf };
    // Say which value is the odd one, not the first one a raw reading would choke on (often a valid instance).
    const help = `${input.kind.instanceHelp(input.settings)}, or every one as a raw tensor row (GET /v2/models/${model.name} says what one must be)`;
    const first = natural.indexOf(true);
    if (first !== -1) throw new BadRequestError(`${placeOf(natural.indexOf(false))} is not an instance like ${placeOf(first)}: send every instance as ${help}`);
    // A raw row: numbers, or (TF Serving's row format) an object of them by input name.
    const rawRow = (v: unknown) => typeof v === 'number' || Array.isArray(v) || (isRecord(v) && inputs.some((spec) => spec.name in v));
    const neither = values.findIndex((v) => !rawRow(v));
    if (neither !== -1) throw new BadRequestError(`${placeOf(neither)} is neither an instance model ${model.name} takes nor a raw tensor row: send every instance as ${help}`);
  }
  if (inputs.length === 1 && !values.some((v) => isRecord(v) && inputs[0].name in v)) {
    return { kind: 'tensors', tensors: [rawTensor(inputs[0], values, where, { place: placeOf, shape: rowShapes?.[0] })] };
  }
  return {
    kind: 'tensors',
    tensors: inputs.map((spec, i) =>
      rawTensor(
        spec,
        values.map((value, r) => {
          if (!isRecord(value) || !(spec.name in value)) {
            throw new BadRequestError(`${placeOf(r)}: expected an object with the inputs ${inputs.map((s) => s.name).join(', ')}`);
          }
          return value[spec.name];
        }),
        `${where}[*].${spec.name}`,
        { place: (r) => `${placeOf(r)}.${spec.name}`, shape: rowShapes?.[i] },
      ),
    ),
  };
}

/** The model's input tensors for a request: natural instances encoded, raw tensors as sent. */
export async function inputTensors(model: ModelInputs, input: ModelInput, budget: EncodeBudget): Promise<TensorData[]> {
  return input.kind === 'instances' ? [await encodeInstances(model, input.instances, budget, 'instances', input.place)] : input.tensors;
}

/**
 * The instance a data-set record holds (a CSV row or a JSON Lines object): an `instance` field
 * when there is one, else the kind's own columns (tabular features, `text`, `image`...), else for a
 * raw model the record's values in order. `ignore` lists the label columns.
 */
export function instanceFromRecord(model: ModelInputs, record: Record<string, unknown>, ignore: readonly string[] = []): unknown {
  if ('instance' in record) return record.instance;
  const input = inputKindOf(model);
  if (input) return input.kind.fromRecord(input.settings, record, ignore);
  return Object.entries(record)
    .filter(([k]) => !ignore.includes(k))
    .map(([, v]) => v);
}

/** The same from CSV cells, which are all text: numbers are read where the model wants numbers. */
export function instanceFromCsv(model: ModelInputs, record: Record<string, unknown>, ignore: readonly string[] = []): unknown {
  const input = inputKindOf(model);
  // A raw model's `instance` cell holds the row as JSON text ("[5.1,3.5,1.4,0.2]"): a CSV cell is text.
  if (!input && typeof record.instance === 'string' && /^\s*[[{]/.test(record.instance)) {
    try {
      return JSON.parse(record.instance);
    } catch {
      return record.instance;
    }
  }
  const instance = instanceFromRecord(model, record, ignore);
  if (Array.isArray(instance)) return instance.map(csvNumber);
  return input ? input.kind.fromCsvCells(input.settings, instance) : instance;
}

/** Columns a data file must have for this model, or undefined when any layout will do. */
export function requiredColumns(model: ModelInputs): string[] | undefined {
  const input = inputKindOf(model);
  return input?.kind.requiredColumns(input.settings);
}

/** Writes a CSV row's model-input values into `out` at `offset`, answering what is wrong with the row, if anything. */
export type CsvRowEncoder = (cells: string[], out: Float32Array, offset: number) => string | undefined;

/**
 * The columnar reading of CSV rows, for kinds whose instance is a row's cells (tabular): given the
 * header, rows of cells go straight into one Float32Array per batch, with no object per row.
 * `undefined` when the kind has no such path; `missing` names the columns the header lacks.
 */
export function csvColumns(model: ModelInputs, header: string[]): { inputName: string; width: number; encode: CsvRowEncoder } | { missing: string[] } | undefined {
  const input = inputKindOf(model);
  if (!input?.kind.csvRowEncoder) return undefined;
  const encode = input.kind.csvRowEncoder(input.settings, header);
  if (!encode) return { missing: (input.kind.requiredColumns(input.settings) ?? []).filter((name) => !header.includes(name)) };
  const width = input.kind.rowShape(input.settings).reduce((a, b) => a * b, 1);
  return { inputName: model.signature.inputs[0].name, width, encode };
}

/** Whether the model's inputs can take the columnar path (the kind says how to read cells). */
export function canReadColumns(model: ModelInputs): boolean {
  return inputKindOf(model)?.kind.csvRowEncoder !== undefined;
}
