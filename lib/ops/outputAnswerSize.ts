/**
 * A predict answer's size, bounded from the model's outputs before the answer is built. It was built
 * whole (nested arrays, its JSON, the JSON of the whole result) and only then measured by lib/http:
 * 256 rows of a model with 20,000 outputs (a 4 KB request) took a 256 MB function to 352 MB before
 * the 413 (TF Serving :predict), or past V8's heap limit, which ended the process (OIP infer).
 * Explanations bound theirs the same way (explain/answerSize.ts), before any pass.
 */
import { megabytes, megabytesOver } from '../bytes.js';
import { singular } from '../inputs/encode.js';
import { PayloadTooLargeError } from '../errors.js';
import type { MemoryBudget } from '../runtime/memory.js';
import type { AnswerLimit } from './explain/answerSize.js';

/** One output as the answer carries it: as JSON, or as the binary extension's bytes (base64 in the sent JSON). */
export interface AnswerOutput {
  data: ArrayLike<unknown>;
  binary?: boolean;
  /** Bytes the answer adds to each value at most besides the value (a labelled score's label and keys). */
  extraPerValue?: number;
  /** Bytes it adds to each value at least (a label every score is written with: :classify's). */
  leastExtraPerValue?: number;
}

/**
 * Bytes of memory building an answer takes per byte of its JSON: TF Serving's :predict of 256 rows
 * x 20,000 raw outputs (a 59 MB answer) peaked 450 MB above the request before it, 7.6 per byte
 * (the nested arrays, the answer's text, the JSON of the whole result measured); OIP's JSON, 4.2.
 */
const BUILT_BYTES_PER_ANSWER_BYTE = 8;
/** Status, headers and the answer's keys around its values (lib/http/handler.ts: far below 4 KiB). */
const FIXED_BYTES = 4096 + 1024;

/** A value's sent bytes: at least (one digit and a comma) and about at most (its text, a comma, the brackets of a last dimension of 1). */
function valueBytes(value: unknown, binary: boolean | undefined, bytesPerElement: number | undefined): { least: number; most: number } {
  if (typeof value === 'string') {
    const utf8 = Buffer.byteLength(value);
    if (binary) return { least: ((4 + utf8) * 4) / 3, most: ((4 + utf8) * 4) / 3 };
    // A quote or backslash is escaped once in the answer's JSON and again in the result's.
    return { least: utf8 + 3, most: 2 * Buffer.byteLength(JSON.stringify(value)) + 1 };
  }
  if (binary) return { least: ((bytesPerElement ?? 4) * 4) / 3, most: ((bytesPerElement ?? 4) * 4) / 3 };
  return { least: 2, most: String(value).length + 3 };
}

/** The answer's sent bytes at least and at most, with their share per row. */
function bounds(outputs: AnswerOutput[]): { least: number; most: number } {
  let least = FIXED_BYTES;
  let most = FIXED_BYTES;
  for (const { data, binary, extraPerValue = 0, leastExtraPerValue = 0 } of outputs) {
    const bytesPerElement = ArrayBuffer.isView(data) ? (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT : undefined;
    for (let i = 0; i < data.length; i++) {
      const value = valueBytes(data[i], binary, bytesPerElement);
      least += value.least + leastExtraPerValue;
      most += value.most + extraPerValue;
    }
  }
  return { least, most };
}

/** An output's bytes in the binary extension's form: its elements, or each string's 4-byte length and UTF-8 bytes. */
function binaryBytes(data: ArrayLike<unknown>): number {
  if (ArrayBuffer.isView(data)) return (data as unknown as Float32Array).byteLength;
  let bytes = 0;
  for (let i = 0; i < data.length; i++) bytes += typeof data[i] === 'string' ? 4 + Buffer.byteLength(data[i] as string) : 4;
  return bytes;
}

/** How a client asks for fewer outputs where its route lets it choose them (OIP infer's "outputs"). */
const FEWER_OUTPUTS = 'ask for fewer outputs';

/** The same on a route that answers every output (TF Serving's :predict): the route that can choose. */
export const fewerOutputsOnInfer = (model: string) => `ask /v2/models/${model}/infer for fewer outputs (its "outputs" field)`;

/**
 * What to ask for when one row's answer is over a response's limit (`limitBytes`), where fewer
 * rows cannot help: the binary form where it fits (4 bytes a float, base64-encoded in the
 * function's answer), else batch scoring, whose answers go to S3. efficientpose's one image
 * (368 x 368 x 16 heatmaps, 8.3 MB as float32) was told to send fewer instances and fewer
 * outputs, which could not help. `outputs` hold `rows` rows; one row's share is judged.
 */
export function oneRowAdvice(outputs: AnswerOutput[], rows: number, limitBytes: number, noun = 'instances', model = '{name}', fewer = FEWER_OUTPUTS): string {
  const share = 1 / Math.max(1, rows);
  const values = Math.round(outputs.reduce((sum, o) => sum + o.data.length, 0) * share);
  const rawBytes = outputs.reduce((sum, o) => sum + binaryBytes(o.data) * share, 0);
  const binarySent = (rawBytes * 4) / 3 + FIXED_BYTES;
  const one = `one ${singular(noun)}'s answer`;
  if (!outputs.every((o) => o.binary) && binarySent <= limitBytes) {
    return `${one} fits as binary data (OIP's binary_data_output on /v2/models/${model}/infer: ${megabytes(binarySent)} sent)`;
  }
  const several = outputs.length > 1 ? `its ${outputs.length} outputs hold` : 'its output holds';
  const fewerFirst = outputs.length > 1 ? `${fewer}, or ` : '';
  return `${one} alone is too large (${several} ${values} values, ${megabytes(rawBytes)} as bytes before any encoding): ${fewerFirst}score it with batch scoring, whose answers are written to S3 rather than returned`;
}

/**
 * For an answer of `rows` rows measured once built at `bytes` (lib/http/handler.ts: the bounds above
 * could not tell ahead, a float's text being 2 to 20 characters): how many of its rows fit within
 * `limitBytes`, each row taken at the average share; undefined when not even one does.
 */
export function rowsThatFit(bytes: number, rows: number, limitBytes: number, noun = 'instances'): string | undefined {
  const fit = Math.min(rows - 1, Math.floor((limitBytes - FIXED_BYTES) / ((bytes - FIXED_BYTES) / Math.max(1, rows))));
  return fit >= 1 ? `at most ${fit} of these ${rows} ${noun} fit: send ${fit === 1 ? 'one' : fit} at a time` : undefined;
}

/** How checkOutputAnswer words its 413 and which rows it judges. */
export interface AnswerCheck {
  /** The request's word for its rows (TF Serving's :classify and :regress send "examples"). */
  noun?: string;
  /** How a client asks for fewer outputs on this route. */
  fewer?: string;
  /** What one row too large can do on this route, where oneRowAdvice's (binary outputs, batch scoring) do not apply (/preprocess). */
  oneRow?: string;
  /**
   * The rows the answer will hold, when `outputs` are the first chunk's (`rows` of them) and the
   * rest have not run: an output whose shape the model leaves open is only known once a row has
   * run, and an upscaler's 200 images ran for seconds before their answer was found to be 50 times
   * too large. Default: `rows`.
   */
  ofRows?: number;
}

/**
 * A 413 before the answer of `rows` instances is built, when it cannot be returned within `limit`
 * (its least size is past it) or its building would not fit the memory `budget` gives: the budget's
 * safety margin holds an answer of `limit.bytes` being built, as any answer sent; past that, each
 * byte of its JSON takes BUILT_BYTES_PER_ANSWER_BYTE. The 413 names how many instances fit, in the
 * request's word for them. Judged from the first chunk's outputs (`ofRows`), each row is taken at
 * their average share.
 */
export function checkOutputAnswer(outputs: AnswerOutput[], rows: number, limit: AnswerLimit, budget: MemoryBudget, check: AnswerCheck = {}): void {
  const { noun = 'instances', fewer = FEWER_OUTPUTS, oneRow, ofRows = rows } = check;
  const scale = ofRows / Math.max(1, rows);
  const quick = outputs.reduce((sum, o) => sum + o.data.length * (o.binary ? 6 : 28 + (o.extraPerValue ?? 0)), 0) * scale + FIXED_BYTES;
  if (quick <= limit.bytes && !outputs.some((o) => typeof o.data[0] === 'string')) return;
  const measured = bounds(outputs);
  const [least, most] = [measured.least, measured.most].map((bytes) => (bytes - FIXED_BYTES) * scale + FIXED_BYTES);
  if (most <= limit.bytes) return;
  const perRow = (most - FIXED_BYTES) / Math.max(1, ofRows);
  // Fewer outputs is advice only where the answer carries more than one.
  const fewerOutputs = outputs.length > 1 ? ` (or ${fewer})` : '';
  // `why`: the response's limit (what one row's answer holds is said then), or the memory building it takes.
  const fitting = (bytes: number, why: 'limit' | 'memory' = 'limit') => {
    const fit = Math.min(ofRows, Math.floor((bytes - FIXED_BYTES) / perRow));
    return fit > 0
      ? `at most ${fit} of these ${ofRows} ${noun} fit: send ${fit === 1 ? 'one' : fit} at a time${fewerOutputs}`
      : `not even one ${singular(noun)} fits${why === 'limit' ? `: ${oneRow ?? oneRowAdvice(outputs, rows, limit.bytes, noun, undefined, fewer)}` : fewerOutputs}`;
  };
  const otherwise = limit.otherwise ? `, or ${limit.otherwise}` : '';
  if (!limit.compressed && least > limit.bytes) {
    const [answer, most] = megabytesOver(least, limit.bytes);
    throw new PayloadTooLargeError(`the answer would be at least ${answer}, over the ${most} a Lambda function can return: ${fitting(limit.bytes)}${otherwise}`);
  }
  const need = (most - limit.bytes) * BUILT_BYTES_PER_ANSWER_BYTE;
  if (need <= budget.availableFor(need)) return;
  throw new PayloadTooLargeError(
    `the answer's JSON would be up to ${megabytes(most)}${limit.compressed ? ' before it is compressed' : ''}; building it past the first ${megabytes(limit.bytes)} takes ${megabytes(need)} of memory (${BUILT_BYTES_PER_ANSWER_BYTE} bytes for each of its bytes), and this function can give ${budget.describe()}: ${fitting(limit.bytes + budget.promisable() / BUILT_BYTES_PER_ANSWER_BYTE, 'memory')}`,
  );
}
