/**
 * The Open Inference Protocol's binary tensor data extension (Triton's `binary_tensor_data`, also
 * KServe's): an HTTP body made of a JSON header, whose length the `Inference-Header-Content-Length`
 * header gives, followed by the raw bytes of the inputs that carry `parameters.binary_data_size`,
 * in the order of those inputs. Values are little-endian, row-major, without padding; BOOL is one
 * byte; BYTES is each element's length (4-byte unsigned) followed by its bytes. Outputs asked for
 * with `parameters.binary_data: true` (per output) or `parameters.binary_data_output: true` (the
 * whole request) come back the same way, with `binary_data_size` in place of `data`.
 *
 * Numbers are not parsed from text at all on this path: each numeric input becomes one typed array.
 */
import { BadRequestError, quoted } from '../errors.js';
import { utf8Text } from '../bytes.js';
import { mapValues } from '../tensors/mapValues.js';
import { INT32_MAX, INT32_MIN } from '../tensors/valueRanges.js';
import { jsonData, type OipDatatype } from './datatypes.js';
import { halfToFloat } from './half.js';

/** The HTTP header (lower-cased, as requests carry them) giving the JSON header's byte length. */
export const HEADER_LENGTH = 'inference-header-content-length';

/** Bytes per element of the fixed-size datatypes. */
export const ELEMENT_BYTES: Record<Exclude<OipDatatype, 'BYTES'>, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

/**
 * An aligned copy of bytes [from, to): typed arrays need their element alignment. (A Buffer's own
 * slice() shares memory with its pool: the copy is made as a plain Uint8Array.)
 */
function aligned(bytes: Uint8Array, from: number, to: number): ArrayBuffer {
  const copy = new Uint8Array(to - from);
  copy.set(bytes.subarray(from, to));
  return copy.buffer;
}

/** Integers wider than TF.js's int32 are accepted when every value fits it. */
function toInt32(values: ArrayLike<number | bigint>, where: string): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i += 1) {
    const v = Number(values[i]);
    if (v < INT32_MIN || v > INT32_MAX) throw new BadRequestError(`${where}: value ${values[i]} does not fit int32 (TF.js computes integers in 32 bits)`);
    out[i] = v;
  }
  return out;
}

/**
 * Length-prefixed BYTES elements, where they lie in the body: a view is made for an element only
 * when it is read. A view of each, made up front, took about 140 bytes of memory an element: a 5 MB
 * body of a million one-byte texts held 140 MB of them before any check of the request ran (a 256
 * MB function peaked at 270 MB), where the same texts in JSON take about 40.
 */
export class BytesElements {
  constructor(
    private readonly body: Uint8Array,
    private readonly starts: Uint32Array,
    private readonly ends: Uint32Array,
  ) {}

  get length(): number {
    return this.starts.length;
  }

  element(index: number): Uint8Array {
    return this.body.subarray(this.starts[index], this.ends[index]);
  }

  /** The bytes of elements [start, end) (an image model's input, made once their count is checked: inputs/encode.ts Instances). */
  slice(start = 0, end = this.length): Uint8Array[] {
    return Array.from(this.starts.subarray(start, end), (_, i) => this.element(start + i));
  }
}

function readBytesElements(bytes: Uint8Array, from: number, to: number, count: number, where: string): BytesElements {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // At most one element per 4 bytes (its length): the offsets never outgrow the body.
  const starts = new Uint32Array(Math.min(count, Math.floor((to - from) / 4)));
  const ends = new Uint32Array(starts.length);
  let found = 0;
  let at = from;
  while (at < to) {
    if (at + 4 > to) throw new BadRequestError(`${where}: a BYTES element's 4-byte length is cut short`);
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > to) throw new BadRequestError(`${where}: a BYTES element of ${length} bytes runs past binary_data_size`);
    if (found < starts.length) {
      starts[found] = at;
      ends[found] = at + length;
    }
    found += 1;
    at += length;
  }
  if (found !== count) throw new BadRequestError(`${where}: shape needs ${count} BYTES elements, the binary data holds ${found}`);
  return new BytesElements(bytes, starts, ends);
}

/** One input's values from its bytes: a typed array, booleans for BOOL, or BytesElements for BYTES. */
function readTensor(datatype: OipDatatype, bytes: Uint8Array, from: number, to: number, count: number, where: string): ArrayLike<unknown> | BytesElements {
  if (datatype === 'BYTES') return readBytesElements(bytes, from, to, count, where);
  const size = ELEMENT_BYTES[datatype];
  if (to - from !== count * size) {
    throw new BadRequestError(`${where}: binary_data_size is ${to - from} bytes; shape needs ${count} ${datatype} values of ${size} bytes (${count * size})`);
  }
  const buffer = aligned(bytes, from, to);
  switch (datatype) {
    case 'FP32':
      return new Float32Array(buffer);
    case 'FP64':
      return Float32Array.from(new Float64Array(buffer));
    case 'FP16':
      return mapValues(Float32Array, new Uint16Array(buffer), halfToFloat);
    case 'INT32':
      return new Int32Array(buffer);
    case 'INT16':
      return Int32Array.from(new Int16Array(buffer));
    case 'INT8':
      return Int32Array.from(new Int8Array(buffer));
    case 'UINT8':
      return Int32Array.from(new Uint8Array(buffer));
    case 'UINT16':
      return Int32Array.from(new Uint16Array(buffer));
    case 'UINT32':
      return toInt32(new Uint32Array(buffer), where);
    case 'INT64':
      return toInt32(new BigInt64Array(buffer), where);
    case 'UINT64':
      return toInt32(new BigUint64Array(buffer), where);
    case 'BOOL':
      return readBools(new Uint8Array(buffer), where);
  }
}

/**
 * BOOL bytes as booleans, as JSON BOOL data arrives. The extension defines only 1 (true) and 0
 * (false); Triton passes any other byte to the model unchecked, so what it means there depends on
 * the backend: refused here with its place, as a value no datatype can hold is.
 */
function readBools(bytes: Uint8Array, where: string): boolean[] {
  const values = new Array<boolean>(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) {
    if (bytes[i] > 1) throw new BadRequestError(`${where}: BOOL element ${i} is the byte ${bytes[i]}; the binary extension's BOOL is 1 (true) or 0 (false)`);
    values[i] = bytes[i] === 1;
  }
  return values;
}

/** The values readBinaryRequest filled in: whatever their type, no JSON value is one of them. */
const readFromBody = new WeakSet<object>();

/** Whether an input's data was read from a binary body's bytes (not sent as JSON "data"). */
export function isBinaryData(data: unknown): boolean {
  return typeof data === 'object' && data !== null && readFromBody.has(data);
}

/**
 * One input's values from a raw binary body (Triton's raw binary request, rawBinary.ts): the whole
 * body read as an input's bytes are (`count` values), or, as BYTES, one element that is the body.
 */
export function readRawInput(datatype: OipDatatype, body: Uint8Array, count: number, where: string): ArrayLike<unknown> | BytesElements {
  const values = datatype === 'BYTES' ? new BytesElements(body, Uint32Array.of(0), Uint32Array.of(body.length)) : readTensor(datatype, body, 0, body.length, count, where);
  readFromBody.add(values);
  return values;
}

interface HeaderInput {
  name?: unknown;
  shape?: unknown;
  datatype?: unknown;
  parameters?: { binary_data_size?: unknown } & Record<string, unknown>;
  data?: unknown;
}

/**
 * The request a binary body carries: its JSON header with each binary input's `data` filled from
 * the bytes after it (validated like any request afterwards). Sizes must add up exactly.
 */
export function readBinaryRequest(body: Uint8Array, headerLength: string): unknown {
  // Decimal digits only, as HTTP writes a length (Content-Length's grammar): Number() also read
  // "0x10", "1e1" and "16.0" as numbers.
  const length = /^\d{1,15}$/.test(headerLength) ? Number(headerLength) : Number.NaN;
  // Triton's "raw binary request" (the body one input's bytes, without a header) is read by rawBinary.ts, with the model's signature.
  if (length === 0) throw new BadRequestError("Inference-Header-Content-Length is 0: a raw binary request, the body one input's bytes (rawBinary.ts), has no JSON header to read");
  if (!Number.isInteger(length) || length > body.length) {
    throw new BadRequestError(`Inference-Header-Content-Length is ${quoted(headerLength)}; the body has ${body.length} bytes`);
  }
  // The JSON header is UTF-8, as any JSON body (lib/http/body.ts).
  const text = utf8Text(body.subarray(0, length));
  if (text === undefined) {
    throw new BadRequestError(`the JSON header (the first ${length} bytes) is not valid UTF-8 text: JSON is UTF-8; send its text in UTF-8`);
  }
  let header: { inputs?: unknown };
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`the JSON header (the first ${length} bytes) is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(header?.inputs)) return header; // the schema names what is missing
  let at = length;
  for (const [i, input] of (header.inputs as HeaderInput[]).entries()) {
    const size = input?.parameters?.binary_data_size;
    if (size === undefined) continue;
    const where = `inputs[${i}] (${quoted(input.name)})`;
    if (!Number.isInteger(size) || (size as number) < 0) throw new BadRequestError(`${where}.parameters.binary_data_size: expected a byte count, got ${quoted(size)}`);
    if (input.data !== undefined) throw new BadRequestError(`${where}: an input with binary_data_size carries no "data"`);
    if (at + (size as number) > body.length) throw new BadRequestError(`${where}: binary_data_size ${size} runs past the end of the body (${body.length - at} bytes left)`);
    const shape = Array.isArray(input.shape) && input.shape.every((d) => Number.isInteger(d) && d >= 0) ? (input.shape as number[]) : undefined;
    const datatype = typeof input.datatype === 'string' && (input.datatype === 'BYTES' || input.datatype in ELEMENT_BYTES) ? (input.datatype as OipDatatype) : undefined;
    if (shape && datatype) {
      const values = readTensor(
        datatype,
        body,
        at,
        at + (size as number),
        shape.reduce((a, b) => a * b, 1),
        where,
      );
      readFromBody.add(values);
      input.data = values;
    }
    at += size as number;
  }
  if (at !== body.length) throw new BadRequestError(`the binary inputs take ${at - length} bytes; ${body.length - length} follow the JSON header`);
  return header;
}

/** A flag of the extension: absent, or a JSON boolean (Triton refuses anything else: "true" is not taken for true, nor silently for false). */
function flag(value: unknown, where: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new BadRequestError(`${where}: expected true or false, got ${quoted(value)}`);
}

/** Which outputs a request wants as binary: per output `binary_data`, else the request's `binary_data_output`. */
export function binaryOutputsWanted(request: {
  parameters?: Record<string, unknown>;
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}): (name: string) => boolean {
  const all = flag(request.parameters?.binary_data_output, 'parameters.binary_data_output') ?? false;
  const asked = new Map((request.outputs ?? []).map((o, i) => [o.name, flag(o.parameters?.binary_data, `outputs[${i}].parameters.binary_data`)]));
  return (name) => asked.get(name) ?? all;
}

/** A tensor's values as the extension's bytes. */
function tensorBytes(datatype: string, data: ArrayLike<unknown>): Uint8Array {
  if (datatype === 'BYTES') {
    const encoded = Array.from(data, (v) => (v instanceof Uint8Array ? v : Buffer.from(String(v), 'utf8')));
    const out = new Uint8Array(encoded.reduce((n, e) => n + 4 + e.length, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    for (const element of encoded) {
      view.setUint32(at, element.length, true);
      out.set(element, at + 4);
      at += 4 + element.length;
    }
    return out;
  }
  if (datatype === 'FP32') return new Uint8Array(Float32Array.from(data as ArrayLike<number>).buffer);
  if (datatype === 'INT32') return new Uint8Array(Int32Array.from(data as ArrayLike<number>).buffer);
  if (datatype === 'BOOL') return mapValues(Uint8Array, data as ArrayLike<number>, (v) => (v ? 1 : 0));
  throw new BadRequestError(`outputs of datatype ${datatype} cannot be returned as binary data`);
}

export interface OutputTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: ArrayLike<unknown>;
  parameters?: Record<string, unknown>;
}

/**
 * A response with some outputs as binary: the JSON header (those outputs with binary_data_size
 * and no data) followed by their bytes, in output order, and the header's length.
 */
export function binaryResponse(response: { outputs: OutputTensor[] } & Record<string, unknown>, binary: (name: string) => boolean): { body: Uint8Array; headerLength: number } {
  const chunks: Uint8Array[] = [];
  const outputs = response.outputs.map((output) => {
    if (!binary(output.name)) return { ...output, data: jsonData(output.datatype, output.data) };
    const bytes = tensorBytes(output.datatype, output.data);
    chunks.push(bytes);
    const { data: _data, ...rest } = output;
    return { ...rest, parameters: { ...output.parameters, binary_data_size: bytes.length } };
  });
  const header = Buffer.from(JSON.stringify({ ...response, outputs }), 'utf8');
  const body = new Uint8Array(header.length + chunks.reduce((n, c) => n + c.length, 0));
  body.set(header, 0);
  let at = header.length;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return { body, headerLength: header.length };
}
