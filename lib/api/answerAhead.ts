/**
 * A predict answer's size judged from its first chunk of rows, before the other chunks run. An
 * output whose shape the model leaves open (an upscaler's image, a detector's boxes) is only known
 * once a row has run: esrgan's 200 images ran for seconds, then the time limit's 413 named 112 that
 * would fit in time, whose answer was then ten times too large. The first chunk's answer, built as
 * the route builds it, gives each row's share; past Lambda's limit, the 413 names how many rows fit,
 * as the answer measured once built would (lib/http/handler.ts), and no other chunk runs.
 */
import { answerTooLarge } from '../http/handler.js';
import type { AnswerLimit } from '../ops/explain/answerSize.js';
import { type AnswerOutput, checkOutputAnswer, oneRowAdvice, rowsThatFit } from '../ops/outputAnswerSize.js';
import type { RunLimits } from '../runtime/memory.js';
import { sliceRows, type TensorData } from '../tensors/data.js';

/**
 * What to ask for should the answer of `rows` rows be over Lambda's limit at `bytes`: how many of
 * its rows fit, from that size (or, where the route has it, the binary form: 4 bytes a float32,
 * where JSON takes up to 20 characters); for one row, fewer rows cannot help. `answered` holds
 * `answeredRows` of the rows (the first chunk's, when judged ahead). Worded only then.
 */
export const tooLargeAdvice = (answered: AnswerOutput[], rows: number, limitBytes: number, model: string, fewer?: string, binaryOnInfer = false, answeredRows = rows) => ({
  tooLargeAdvice: (bytes: number) => {
    const fit = rows > 1 ? rowsThatFit(bytes, rows, limitBytes) : undefined;
    if (fit === undefined) return oneRowAdvice(answered, answeredRows, limitBytes, 'instances', model, fewer);
    return `${fit}${binaryOnInfer && !answered.every((o) => o.binary) ? ', or ask for the outputs as binary data (binary_data_output)' : ''}`;
  },
});

/** Status and headers around an answer's body in what Lambda returns (lib/http/handler.ts counts the whole result). */
const RESULT_BYTES = 1024;

/**
 * How far past the limit an answer judged ahead must be to be refused ahead: its rows' share is
 * the first chunk's (one row, on a model's first request), and rows differ (a float's text is 2 to
 * 20 characters). One nearer the limit runs, and its answer is measured once built.
 */
const AHEAD_MARGIN = 1.25;

/** The bytes Lambda returns for this body: its JSON inside the result's, or bytes as base64. */
const resultBytes = (body: string | Uint8Array) => (typeof body === 'string' ? Buffer.byteLength(JSON.stringify(body)) : Math.ceil(body.byteLength / 3) * 4) + RESULT_BYTES;

/**
 * The answer's bytes for `ofRows` rows from its first chunk's `rows`: what an answer of no rows
 * takes (its keys, each output's name, datatype and shape), plus each row's share. Scaled whole,
 * a one-row chunk's keys counted once a row: iris's first request of 128,000 rows (5.6 MB) was
 * judged 10.6 MB.
 */
function estimatedBytes(form: AnswerForm, outputs: TensorData[], rows: number, ofRows: number): number {
  let fixed = RESULT_BYTES;
  try {
    fixed = resultBytes(form.body(outputs.map((t) => (t.shape.length > 0 ? sliceRows(t, 0, 0) : t))));
  } catch {
    // An answer of no rows the route cannot build: its fixed part is counted once a row, an overestimate.
  }
  return fixed + Math.max(0, resultBytes(form.body(outputs)) - fixed) * (ofRows / rows);
}

/** How a route turns outputs into its answer. */
export interface AnswerForm {
  /** The outputs the answer carries, for the bounds of ops/outputAnswerSize.ts. */
  answered(outputs: TensorData[]): AnswerOutput[];
  /** The answer's body as sent: its JSON text, or bytes. */
  body(outputs: TensorData[]): string | Uint8Array;
  model: string;
  /** How the route asks for fewer outputs. */
  fewer?: string;
  /** The route can answer outputs as binary data. */
  binaryOnInfer?: boolean;
  /** The answer is measured against Lambda's limit (an HTTP API's or REST API's; a direct invocation's is not). */
  measured: boolean;
}

/** `limits` whose forward pass judges the answer from its first chunk (RunLimits.firstOutputs). */
export function answerCheckedAhead(limits: RunLimits, limit: AnswerLimit, form: AnswerForm): RunLimits {
  return {
    ...limits,
    firstOutputs: (outputs, rows, ofRows) => {
      const answered = form.answered(outputs);
      checkOutputAnswer(answered, rows, limit, limits.budget, { fewer: form.fewer, ofRows });
      // A compressed answer's size is not known ahead (zeros compress a thousandfold): the bound
      // above on the memory building it applies.
      // A direct invocation's answer is a JSON value, not measured (lib/http/handler.ts).
      if (limit.compressed || !form.measured) return;
      const bytes = Math.round(estimatedBytes(form, outputs, rows, ofRows));
      if (bytes <= limit.bytes * AHEAD_MARGIN) return;
      const advice = tooLargeAdvice(answered, ofRows, limit.bytes, form.model, form.fewer, form.binaryOnInfer, rows);
      throw answerTooLarge(bytes, limit.otherwise !== undefined, advice, true);
    },
  };
}
