/**
 * What every operation and both protocols share to turn what a client sent into the model's input
 * tensors: natural instances go through the model's input kind (encodeInstances); anything else is
 * a raw tensor row, checked against the signature. Pure: no I/O, no TF.js (plain typed arrays).
 */
import { BadRequestError } from '../errors.js';
import { fitsShape, type TensorData, type TensorSpec } from '../tensors/data.js';
import { keyedByInputName, namesATensor } from '../tensors/inputNames.js';
import { truncateInPlace } from '../tensors/mapValues.js';
import { declaredRange } from '../tensors/valueRanges.js';
import { flattenNested, leafShown, nestedShape, type RowsOf } from '../tensors/nested.js';
import { megabytes, size } from '../bytes.js';
import { type EncodeBudget, type RunNeed, TooManyInstancesError } from './budget.js';
import { csvNumber } from './csvCells.js';
import { instanceColumn } from './instanceColumn.js';
import type { InputKind, KindSettings } from './kind.js';
import { kindOf } from './kinds.js';
import { sizedToInstance, sizedToRow, sizeIsOpen } from './openSize.js';

/** The parts of a manifest that say what the model takes. */
export interface ModelInputs {
  name: string;
  signature: { inputs: TensorSpec[] };
  transforms: { input?: KindSettings };
}

/**
 * Natural instances: an array, or a list that makes them only when they are taken (OIP binary
 * BYTES for an image model: a view of each element, made up front, took about 140 bytes an element,
 * 140 MB for a 5 MB body of a million empty images, before their count was checked).
 */
export interface Instances {
  readonly length: number;
  slice(start?: number, end?: number): unknown[];
}

/**
 * What a request asks to run: raw tensors, or natural instances for the model's input kind.
 * Messages name the instances in the request's own words: `where` the field that holds them,
 * `place(i)` the i-th, `noun` what the protocol calls them (TF Serving's :classify: "examples").
 */
export type ModelInput = ({ kind: 'tensors'; tensors: TensorData[] } | { kind: 'instances'; instances: Instances; place?: (index: number) => string; where?: string }) & {
  noun?: string;
};

/** The model's input kind and its settings, or undefined for a model that takes raw tensors only. */
export function inputKindOf(model: ModelInputs): { kind: InputKind; settings: KindSettings } | undefined {
  const settings = model.transforms.input;
  return settings ? { kind: kindOf(settings), settings } : undefined;
}

export type { EncodeBudget, RunNeed } from './budget.js';

/**
 * Natural instances -> the model's (first) input tensor, through its input kind. The rows are
 * encoded into one array, so its size is checked against `budget` first: a small instance can
 * make a large row (a 1 x 1 PNG is 602 KB of a 224 x 224 x 3 model's input), and a few MB of
 * request would otherwise ask for gigabytes. With `options.run`, what the work after the encoding
 * holds besides the rows (a forward pass) is counted with them. A 413 names the largest number of
 * instances that fits. The kind gets the budget too, for what encoding one instance takes besides
 * its row (an image's decoded pixels: image/workingMemory.ts).
 */
export async function encodeInstances(
  modelAsStored: ModelInputs,
  listed: Instances,
  budget: EncodeBudget,
  where = 'instances',
  placeOf = (index: number) => `${where}[${index}]`,
  options: EncodeOptions = {},
): Promise<TensorData> {
  const noun = options.noun ?? 'instances';
  if (listed.length === 0) throw new BadRequestError(`${where}: is empty: send at least one ${singular(noun)}`);
  // Sized already by the request, as the ops do (sizedToInput), or here by its first instance.
  const model = await sizedToInstance(modelAsStored, listed.slice(0, 1)[0], placeOf(0));
  const input = inputKindOf(model);
  if (!input) throw new BadRequestError(`${where}: model ${model.name} has no input transform: send raw tensors`);
  const rowShape = input.kind.rowShape(input.settings);
  const run = options.run ?? NO_RUN;
  const needed = bytesOf(listed.length, rowBytesOf(rowShape), run);
  if (needed > budget.availableFor(needed)) throw tooMany(where, listed.length, rowShape, budget, run, noun);
  // Made only now that their count fits (an array is taken as it is).
  const instances = Array.isArray(listed) ? listed : listed.slice();
  const { progress } = options;
  const data = progress ? await encodeInSlices(input, instances, placeOf, budget, rowShape, progress) : await input.kind.encode(input.settings, instances, placeOf, budget);
  const [spec] = model.signature.inputs;
  const shape = [instances.length, ...rowShape];
  // A model that takes int32 (MoveNet takes its image so) gets the values cut toward zero, as its
  // authors' tf.cast(resized, 'int32') does; not a 400 saying the client sent float32. In place:
  // the encoded rows are this call's own, and the budget counted them once.
  if (spec.dtype === 'int32') return { name: spec.name, dtype: 'int32', shape, data: truncateInPlace(data) };
  return { name: spec.name, dtype: 'float32', shape, data };
}

const rowBytesOf = (rowShape: number[]) => 4 * rowShape.reduce((a, b) => a * b, 1);

/** Nothing after the encoding: the rows are only checked (or run by work that plans its own memory). */
const NO_RUN: RunNeed = { perCall: 0, perRow: 0, what: '' };

/** The bytes `count` rows take with the work after them. */
const bytesOf = (count: number, rowBytes: number, run: RunNeed) => count * (rowBytes + run.perRow) + run.perCall;

/** The most rows that fit `available` bytes with the work after them (0: not even one). */
const rowsThatFit = (available: number, rowBytes: number, run: RunNeed) => Math.max(0, Math.floor((available - run.perCall) / (rowBytes + run.perRow)));

/** How instances are encoded: told how far encoding has gone (EncodeProgress); what the work after it needs besides the rows; what messages call them (default "instances"). */
export interface EncodeOptions {
  progress?: EncodeProgress;
  run?: RunNeed;
  noun?: string;
}

/** One of a plural noun ("instances", "examples", "rows"). */
export const singular = (noun: string) => noun.replace(/s$/, '');

/**
 * Told how far encoding has gone, for work that must end in time (a synchronous predict: its
 * images' decoding is per row, and can take as long as the model). The instances are encoded
 * `slice` at a time, into the one array they always made; `encoded(done)` comes after each slice
 * but the last, and may throw to stop (a 413 once the rest cannot end before the timeout).
 */
interface EncodeProgress {
  slice: number;
  encoded(done: number): void;
}

async function encodeInSlices(
  input: { kind: InputKind; settings: KindSettings },
  instances: unknown[],
  placeOf: (index: number) => string,
  budget: EncodeBudget,
  rowShape: number[],
  progress: EncodeProgress,
): Promise<Float32Array> {
  const slice = Math.max(1, progress.slice);
  if (slice >= instances.length) return input.kind.encode(input.settings, instances, placeOf, budget);
  const width = rowBytesOf(rowShape) / 4;
  const out = new Float32Array(instances.length * width);
  for (let from = 0; from < instances.length; from += slice) {
    const to = Math.min(instances.length, from + slice);
    out.set(await input.kind.encode(input.settings, instances.slice(from, to), (i) => placeOf(from + i), budget), from * width);
    if (to < instances.length) progress.encoded(to);
  }
  return out;
}

function tooMany(where: string, count: number, rowShape: number[], budget: EncodeBudget, run: RunNeed, noun = 'instances'): TooManyInstancesError {
  const one = singular(noun);
  const rowBytes = rowBytesOf(rowShape);
  // For the client's next request (promisable); one that fits now is named even when that leaves none.
  const fit = Math.max(rowsThatFit(budget.promisable(), rowBytes, run), Math.min(1, rowsThatFit(budget.available(), rowBytes, run)));
  const running =
    run.perCall === 0 && run.perRow === 0
      ? ''
      : `, and ${run.what.replace('{them}', count === 1 ? 'it' : 'them')} ${megabytes(bytesOf(count, 0, run))} more (${size(run.perCall)} for a call, ${size(run.perRow)} per ${one})`;
  return new TooManyInstancesError(
    `${where}: ${count === 1 ? `one ${one} makes` : `${count} ${noun} make`} ${megabytes(count * rowBytes)} of model input (${megabytes(rowBytes)} each, shape [${rowShape}])${running}; ` +
      `this function can give ${budget.describe()}: ` +
      (fit > 0
        ? `at most ${fit === 1 ? `1 ${one} fits` : `${fit} ${noun} fit`} at once`
        : `not even one fits; ${budget.largerSettingFor(bytesOf(1, rowBytes, run))} would take one`),
    fit,
  );
}

/**
 * How many natural instances to encode at once now: as many as fit `budget` with the work after
 * them (`run`, asked again for each chunk: a pass's cost is measured on its first), at most `maxRows`; one for a model
 * whose rows take their own size. Never less than one: a row that does not fit is refused by
 * encodeInstances, with the figures. Work that takes rows a chunk at a time (evaluate, batch
 * scoring) asks it before each chunk, so a request of more rows than fit at once runs instead of
 * being refused as a whole.
 */
export function instancesPerChunk(model: ModelInputs, budget: EncodeBudget, maxRows: number, run = NO_RUN): number {
  // Rows of any size (images each at its own: inputs/openSize.ts) one at a time: each sized and planned alone.
  if (sizeIsOpen(model)) return 1;
  const bytes = instanceBytes(model);
  return bytes === undefined ? maxRows : Math.max(1, Math.min(maxRows, rowsThatFit(budget.available(), bytes, run)));
}

/**
 * The shape of the row one natural instance makes of the model's input; undefined for a model of
 * raw tensors only, and for one whose rows take each request's size until a request sized it (sizedToInput).
 */
export function instanceRowShape(model: ModelInputs): number[] | undefined {
  const input = inputKindOf(model);
  const rowShape = input?.kind.rowShape(input.settings);
  return rowShape?.some((d) => d < 0) ? undefined : rowShape;
}

/**
 * The model sized to this request, when its natural rows leave a size open (an image model of any
 * size: inputs/openSize.ts): to its first instance's row, or to its raw rows' shape. As it is otherwise.
 */
export async function sizedToInput<M extends ModelInputs>(model: M, input: ModelInput): Promise<M> {
  if (!sizeIsOpen(model)) return model;
  if (input.kind === 'instances') {
    const [first] = input.instances.slice(0, 1);
    const where = input.where ?? input.noun ?? 'instances';
    return first === undefined ? model : sizedToInstance(model, first, (input.place ?? ((i: number) => `${where}[${i}]`))(0));
  }
  const [spec] = model.signature.inputs;
  const tensor = input.tensors.find((t) => t.name === spec.name) ?? input.tensors[0];
  return tensor ? sizedToRow(model, tensor.shape.slice(1)) : model;
}

/** The same for values as a request lists them (explain's instances): natural instances, or raw rows as nested arrays. */
export async function sizedToValues<M extends ModelInputs>(model: M, values: unknown[], placeOf: (index: number) => string): Promise<M> {
  const input = inputKindOf(model);
  const [first] = values;
  if (!input || !sizeIsOpen(model) || first === undefined) return model;
  if (input.kind.isInstance(input.settings, first)) return sizedToInstance(model, first, placeOf(0));
  try {
    return sizedToRow(model, nestedShape(first, placeOf(0)));
  } catch {
    return model; // not a row: refused as the request's values are, in their words
  }
}

/** The bytes one natural instance makes of the model's input; undefined for a model of raw tensors only. */
export function instanceBytes(model: ModelInputs): number | undefined {
  const rowShape = instanceRowShape(model);
  return rowShape && rowBytesOf(rowShape);
}

/** A 413, as encodeInstances gives, when not even one natural instance fits `budget`. */
export function checkOneInstanceFits(model: ModelInputs, budget: EncodeBudget, where = 'instances'): void {
  const rowShape = instanceRowShape(model);
  if (!rowShape) return;
  const rowBytes = rowBytesOf(rowShape);
  if (rowBytes > budget.availableFor(rowBytes)) throw tooMany(where, 1, rowShape, budget, NO_RUN);
}

/**
 * A 413 (InstanceTooLargeError) when what the model's kind takes to encode one natural instance
 * besides its row (an image's decoding) would not fit `budget`, checked without encoding it: for a
 * budget not this process's (the job worker's), of an instance this function cannot decode itself.
 */
export async function checkEncodingFits(model: ModelInputs, instance: unknown, budget: EncodeBudget, where: string): Promise<void> {
  const input = inputKindOf(model);
  await input?.kind.checkEncodingFits?.(input.settings, instance, where, budget);
}

/** A nested array of values for one model input, as a tensor of the input's dtype; `rows` names and shapes a chunk's rows. */
export function rawTensor(spec: TensorSpec, value: unknown, where: string, rows?: RowsOf): TensorData {
  const takes = `expected numbers for input ${spec.name} (${spec.declaredDtype ?? spec.dtype}, ${spec.shape === null ? 'any shape' : `shape [${spec.shape}]`})`;
  const numbersOnly = () => new BadRequestError(`${where}: ${takes}`);
  if (spec.dtype === 'float32' || spec.dtype === 'int32') {
    const notANumber = (path: string, leaf: string | boolean) => new BadRequestError(`${path}: ${takes}, got ${leafShown(leaf)}`);
    const { shape, data } = flattenNested(value, where, spec.dtype, notANumber, { ...rows, range: declaredRange(spec) });
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
 * A raw tensor row: numbers, or (TF Serving's row format) an object of them by input name. A lone
 * number only where a row can be one value: to spam's 1000 words a 5 in a batch file's text column
 * is no row, said so, not "shape [1] does not fit the model's [-1,1000]".
 */
function isRawRow(inputs: TensorSpec[], value: unknown): boolean {
  if (typeof value === 'number') return inputs.length === 1 && canHoldOneValue(inputs[0]);
  return Array.isArray(value) || (isRecord(value) && inputs.some((spec) => spec.name in value));
}

/** Whether a row of the input may be a single value: every dimension past the batch's 1 or free (or the shape unknown). */
function canHoldOneValue(spec: TensorSpec): boolean {
  return spec.shape === null || spec.shape.slice(1).every((d) => d === 1 || d === -1);
}

/**
 * Whether a value is a natural instance of the model's input kind (never, for a model of raw tensors
 * only). TF Serving's row format names a row's tensors by input name (`{"features": [5.1, ...]}`,
 * as the metadata names the input): a record of arrays under input names only is that raw row, not
 * a feature record missing every feature (a feature's value is one number, never an array).
 */
function isNatural(model: ModelInputs, value: unknown): boolean {
  const input = inputKindOf(model);
  if (!input || rowByInputName(model.signature.inputs, value)) return false;
  return input.kind.isInstance(input.settings, value);
}

function rowByInputName(inputs: TensorSpec[], value: unknown): boolean {
  if (!isRecord(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => Array.isArray(value[key]) && inputs.some((spec) => spec.name === key));
}

/** The form every row must have: the first row's (a natural instance or not), and how messages name that row. */
interface Form {
  natural: boolean;
  place: string;
}

/**
 * What one value is on its own: a natural instance of the model's input kind, a raw tensor row, or
 * neither. Batch scoring groups a micro-batch's rows by it, so each row is read in its own form
 * whatever its neighbours are; anything is a raw row to a model of raw tensors only.
 */
export function formOf(model: ModelInputs, value: unknown): 'natural' | 'raw' | 'neither' {
  if (!inputKindOf(model)) return 'raw';
  if (isNatural(model, value)) return 'natural';
  return isRawRow(model.signature.inputs, value) ? 'raw' : 'neither';
}

/**
 * The first value not of `form`, and the 400 naming it, in the terms the model takes (say which value
 * is the odd one, not the first one a raw reading would choke on, often a valid instance); undefined
 * when every value is of it, or the model takes raw tensors only. A value that is neither an
 * instance nor a raw row is named as such, the first row too.
 */
function otherForm(model: ModelInputs, values: unknown[], placeOf: (index: number) => string, form: Form): { at: number; error: BadRequestError } | undefined {
  const input = inputKindOf(model);
  if (!input) return undefined;
  const help = `${input.kind.instanceHelp(input.settings)}, or every one as a raw tensor row (GET /v2/models/${model.name} says what one must be)`;
  const refuse = (at: number, why: string) => ({ at, error: new BadRequestError(`${placeOf(at)} ${why}: send every instance as ${help}`) });
  const expected = form.natural ? 'natural' : 'raw';
  const at = values.findIndex((v) => formOf(model, v) !== expected);
  if (at === -1) return undefined;
  if (form.natural) return refuse(at, `is not an instance like ${form.place}`);
  return refuse(
    at,
    formOf(model, values[at]) === 'natural' ? `is an instance, not a raw tensor row like ${form.place}` : `is neither an instance model ${model.name} takes nor a raw tensor row`,
  );
}

/**
 * Whether the values are natural instances (the first is one), after a 400 naming the first value
 * not of the first's form (explain's instances, baseline and background are read as predict's are).
 */
export function checkOneForm(model: ModelInputs, values: unknown[], placeOf: (index: number) => string): boolean {
  const natural = isNatural(model, values[0]);
  const odd = otherForm(model, values, placeOf, { natural, place: placeOf(0) });
  if (odd) throw odd.error;
  return natural;
}

/**
 * A list of values, one per row: natural instances when the first is one, else raw tensor rows (one
 * nested array per row, or for a model with several inputs, an object of rows by input name); every
 * row of the first row's form, else a 400 naming the first that is not. `placeOf` names a value in
 * messages (a chunk of a data set: its line in the file; of a request: its index in the request).
 */
export function inputFromValues(model: ModelInputs, sent: unknown[], where = 'instances', placeOf = (index: number) => `${where}[${index}]`): ModelInput {
  if (sent.length === 0) throw new BadRequestError(`${where} is empty: send at least one instance`);
  // A row's inputs named by their tensors (`x:0`) are those inputs.
  const { inputs } = model.signature;
  const values = sent.some((v) => isRecord(v) && namesATensor(inputs, v)) ? sent.map((v, r) => (isRecord(v) ? keyedByInputName(inputs, v, placeOf(r)) : v)) : sent;
  const natural = checkOneForm(model, values, placeOf);
  return natural ? { kind: 'instances', instances: values, where, place: placeOf } : rawInput(model, values, where, placeOf);
}

/** How a data set's raw rows come: by input name or not, and each input's row shape (undefined: read from the rows). */
interface RawRows {
  byName: boolean;
  rowShapes: (number[] | undefined)[];
}

/** Raw tensor rows as the model's input tensors; `rows` (a data set's) says how they come, else the values do. */
function rawInput(model: ModelInputs, values: unknown[], where: string, placeOf: (index: number) => string, rows?: RawRows): ModelInput {
  const { inputs } = model.signature;
  const byName = rows?.byName ?? values.some((v) => isRecord(v) && inputs[0].name in v);
  if (inputs.length === 1 && !byName) {
    return { kind: 'tensors', tensors: [rawTensor(inputs[0], values, where, { place: placeOf, shape: rows?.rowShapes[0] })] };
  }
  // A key the model has no input for is refused, as TF Serving refuses it ("does not have named
  // input"): dropped, a misspelt or extra input would go unnoticed.
  values.forEach((value, r) => {
    const unknown = isRecord(value) ? Object.keys(value).filter((key) => !inputs.some((spec) => spec.name === key)) : [];
    if (unknown.length > 0) throw new BadRequestError(`${placeOf(r)}: unknown input(s) ${unknown.join(', ')}: the model takes ${inputs.map((s) => s.name).join(', ')}`);
  });
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
        { place: (r) => `${placeOf(r)}.${spec.name}`, shape: rows?.rowShapes[i] },
      ),
    ),
  };
}

/**
 * How a data set's first raw row says its rows come, its shape checked against the model's: a first
 * row of the wrong shape is the one named, not the first row unlike it.
 */
function firstRawRow(inputs: TensorSpec[], row: unknown, place: string): RawRows {
  const byName = inputs.length > 1 || (isRecord(row) && inputs[0].name in row);
  const rowShapes = inputs.map((spec) => {
    if (byName && !(isRecord(row) && spec.name in row)) return undefined; // rawInput names the row that lacks it
    const where = byName ? `${place}.${spec.name}` : place;
    // Read as one row of a tensor of rows, as flattenNested reads them (its depth limit counts the rows).
    const [, ...shape] = nestedShape([byName ? (row as Record<string, unknown>)[spec.name] : row], where);
    if (spec.shape && spec.shape.length > 0 && !fitsShape(spec.shape.slice(1), shape)) {
      throw new BadRequestError(`${where}: a row of shape [${shape}] does not fit the model's input ${spec.name}, [${spec.shape}] (-1 = any size)`);
    }
    return shape;
  });
  return { byName, rowShapes };
}

/**
 * A data set's values read a chunk at a time, as evaluate reads an inline request or a file: its
 * first row sets what every row must be, its form (a natural instance or a raw row) and, for raw
 * rows, how they come and their shape, its own checked against the model's. So the row a 400 names
 * is the first that is not, wherever the chunks fall (the synchronous route's are sized by its
 * memory budget, the asynchronous route's precheck's by its own): a mix of forms in two chunks is
 * refused as one in a chunk is.
 */
export class DatasetInputs {
  private form?: Form;
  private raw?: RawRows;

  constructor(
    private readonly model: ModelInputs,
    private readonly where = 'instances',
  ) {}

  /**
   * The next chunk's model input (`rows` of its values), up to its first row of another form, and the
   * 400 naming that row, for the caller to throw once it has checked the rows before it (encoded or
   * run them): a bad row before it is then the one named, as when a chunk ends between the two.
   */
  next(values: unknown[], placeOf: (index: number) => string): { input?: ModelInput; rows: number; refused?: BadRequestError } {
    if (values.length === 0) throw new BadRequestError(`${this.where} is empty: send at least one instance`);
    this.form ??= { natural: isNatural(this.model, values[0]), place: placeOf(0) };
    const odd = otherForm(this.model, values, placeOf, this.form);
    const rows = odd ? values.slice(0, odd.at) : values;
    if (rows.length === 0) return { rows: 0, refused: odd?.error };
    if (this.form.natural) return { input: { kind: 'instances', instances: rows, place: placeOf }, rows: rows.length, refused: odd?.error };
    this.raw ??= firstRawRow(this.model.signature.inputs, rows[0], placeOf(0));
    return { input: rawInput(this.model, rows, this.where, placeOf, this.raw), rows: rows.length, refused: odd?.error };
  }
}

/** The model's input tensors for a request: natural instances encoded, raw tensors as sent. */
export async function inputTensors(model: ModelInputs, input: ModelInput, budget: EncodeBudget, options?: EncodeOptions): Promise<TensorData[]> {
  if (input.kind !== 'instances') return input.tensors;
  const noun = input.noun ?? 'instances';
  return [await encodeInstances(model, input.instances, budget, input.where ?? noun, input.place, { noun, ...options })];
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

/** The one column a record's instance is read from (a raw model's `instance`, an image's, a text's), else undefined: a batch row's error names it. */
function recordColumnOf(model: ModelInputs, record: Record<string, unknown>, ignore: readonly string[] = []): string | undefined {
  const input = inputKindOf(model);
  if ('instance' in record) return input && readsOwnColumns(input, record) ? undefined : 'instance';
  const names = input?.kind.recordColumns;
  return names && instanceColumn(record, names, ignore);
}

/**
 * recordColumnOf's column as a batch row's error names it: one read only as the row's only column
 * says so, with the columns the kind is read from ("id: not a PNG or JPEG image" left a user with
 * a row of an id alone looking for what was wrong with their id).
 */
export function recordColumnNamed(model: ModelInputs, record: Record<string, unknown>, ignore: readonly string[] = []): string | undefined {
  const column = recordColumnOf(model, record, ignore);
  const natural = inputKindOf(model);
  const names = natural?.kind.recordColumns;
  if (column === undefined || column === 'instance' || !natural || !names || names.includes(column)) return column;
  return `${column} (the row's only column, so read as the ${natural.kind.kind}: it is read from column ${names.join(' or ')} when there is one)`;
}

/**
 * Why a record holds no instance, for a kind read from one column: none of its names, and more
 * than one column (an id beside the image). Undefined when it holds one, or the kind reads several.
 */
export function missingColumnProblem(model: ModelInputs, record: Record<string, unknown>, ignore: readonly string[] = []): string | undefined {
  const natural = inputKindOf(model);
  const names = natural?.kind.recordColumns;
  if (!natural || !names || 'instance' in record || instanceColumn(record, names, ignore) !== undefined) return undefined;
  const empty = names.find((name) => name in record);
  if (empty !== undefined) return `column ${empty} is empty: it holds the ${natural.kind.kind}`;
  const columns = Object.keys(record).filter((key) => !ignore.includes(key));
  return `no column holds the ${natural.kind.kind}: it is read from column ${names.join(' or ')}, else from a row's only column (this row has ${columns.length === 0 ? 'none' : columns.join(', ')})`;
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
  // A CSV of every feature column is read by them, as the columnar paths read it, beside a column named `instance` too (an id).
  const instance = input && readsOwnColumns(input, record) ? input.kind.fromRecord(input.settings, record, ignore) : instanceFromRecord(model, record, ignore);
  if (Array.isArray(instance)) return instance.map(csvNumber);
  return input ? input.kind.fromCsvCells(input.settings, instance) : instance;
}

/** The record has every column the kind names (tabular features). */
function readsOwnColumns(input: { kind: InputKind; settings: KindSettings }, record: Record<string, unknown>): boolean {
  const required = input.kind.requiredColumns(input.settings);
  return required?.every((column) => column in record) ?? false;
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
