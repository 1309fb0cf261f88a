/**
 * The explain answer's size, bounded before any pass runs: the answer is built whole (every
 * instance's heatmap as JSON) and only then measured by lib/http, so 4 instances of a 600 x 600 x 3
 * image model built a 31 MB answer (313 MB RSS in a 256 MB function) before their 413. Each
 * instance's part is the answer service.ts builds, made with zero attributions by the same mapping,
 * with every number counted at its longest; the PNG near its worst case.
 */
import { megabytes, megabytesOver } from '../../bytes.js';
import { PayloadTooLargeError } from '../../errors.js';
import { toAnswers } from '../../protocol/answers.js';
import type { Manifest } from '../../registry/index.js';
import type { MemoryBudget } from '../../runtime/memory.js';
import { featureGroups, imageShape } from './features.js';
import type { InputSpace, Rows } from './inputs.js';
import { mapAttribution } from './mapping.js';
import type { ExplainRequest } from './request.js';
import { outputWidth } from './target.js';

/** The bytes an answer may take, and what else could let a larger one through (none: no limit, as in modelctl). */
export interface AnswerLimit {
  bytes: number;
  /** e.g. asking for a compressed answer, where the transport offers one. */
  otherwise?: string;
  /**
   * The answer is compressed before it is sent: `bytes` bounds the compressed bytes, which are not
   * known ahead (zeros compress a thousandfold), so its JSON as built is bounded by the memory
   * building it takes instead (builtAnswerLimit).
   */
  compressed?: boolean;
}

/**
 * Bytes of memory building and compressing an answer takes per byte of its JSON: the answer's
 * arrays, its JSON, those bytes as a buffer, the compressed buffer, its base64 and the measure of
 * the whole result, with the young generation's garbage. Measured in fresh processes (saliency on
 * 600 x 600 x 3 images, gzip, bound 8.6 MB per instance): peak RSS rose 4.2 MB per MB of the bound
 * from 2 to 6 instances (their rows and attributions included), 6.7 from 1 to 2: 7 is above both.
 */
const BUILT_BYTES_PER_ANSWER_BYTE = 7;

/** The longest JSON a number takes: -1.2345678901234567e-308 (NaN and infinities are null). */
const NUMBER_BYTES = 24;
/** The answer's status and headers around the body (lib/http/handler.ts: far below 4 KiB), and meta's parameters. */
const FIXED_BYTES = 4096 + 1024;

/**
 * Bytes of `value` as the handler sends it: JSON.stringify of the result, whose body is the
 * answer's JSON in a JSON string, so a quote or backslash of a string counts twice, and every number
 * at NUMBER_BYTES. An upper bound of the sent JSON for any numbers in the same structure.
 */
function sentJsonBound(value: unknown): number {
  if (value === null || typeof value === 'boolean') return 5;
  if (typeof value === 'number') return NUMBER_BYTES;
  if (typeof value === 'string') return Buffer.byteLength(JSON.stringify(JSON.stringify(value))) - 2;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + sentJsonBound(item) + 1, 2);
  if (typeof value === 'object') {
    let sum = 2;
    for (const [key, item] of Object.entries(value)) if (item !== undefined) sum += sentJsonBound(key) + 2 + sentJsonBound(item);
    return sum;
  }
  return 0;
}

/**
 * A PNG overlay (lib/inputs/image/overlay.ts: RGBA, scaled up to at least 224 pixels by repeating
 * each pixel and row) in base64. Each first row of a repeat is counted at its worst case, as deflate
 * stores it (1 + 4 x width bytes; 5 bytes each block, counted as a KiB's 1); a repeated row, which
 * the Up filter makes all zeros (pngjs keeps the filter with the smallest sum: 0), at 1/64 of it
 * (deflate writes 258 zeros in 2 bytes); plus zlib's and the file's chunks.
 */
function pngBound(height: number, width: number): number {
  const scale = Math.max(1, Math.ceil(224 / Math.max(height, width)));
  const row = 1 + 4 * width * scale;
  const raw = height * row + Math.ceil((height * (scale - 1) * row) / 64);
  return 4 * Math.ceil((raw + Math.ceil(raw / 1024) + 128) / 3);
}

/** What integrated gradients, SmoothGrad and kernelShap add per instance (service.ts spreads `extra`). */
function extraOf(manifest: Manifest, space: InputSpace, row: Float32Array, request: ExplainRequest): Record<string, unknown> {
  if (request.method === 'integratedGradients') return { baselineScore: 0, convergenceDelta: 0 };
  if (request.method === 'smoothGrad') return { noiseStd: 0 };
  if (request.method === 'saliency') return {};
  const names = featureGroups(manifest, space, row, request.patchSize).names;
  return { expectedValue: 0, exact: false, coalitions: 0, shapValues: names.map(() => 0), featureNames: names };
}

/** Bytes of each instance's part of the answer (its explanation and its prediction), at most; undefined when unknown. */
function instanceBounds(manifest: Manifest, space: InputSpace, rows: Rows, request: ExplainRequest): number[] | undefined {
  const width = outputWidth(manifest);
  if (width === undefined) return undefined;
  const longestLabel = (manifest.labels ?? (width === 1 && manifest.task !== 'regression' ? ['0', '1'] : [])).reduce((a, b) => (sentJsonBound(b) > sentJsonBound(a) ? b : a), '');
  const target = manifest.task === 'regression' ? { index: 0 } : { index: 0, label: longestLabel };
  const prediction = sentJsonBound(toAnswers(manifest, { name: 'output', dtype: 'float32', shape: [1, width], data: new Float32Array(width) })[0]);
  const image = request.format === 'png' ? imageShape(manifest, space) : undefined;
  const png = image ? sentJsonBound('png') + 3 + pngBound(image.height, image.width) : 0;
  const zeros = new Float32Array(space.size);
  return Array.from({ length: rows.count }, (_, i) => {
    const row = rows.data.subarray(i * space.size, (i + 1) * space.size);
    const view = { instance: request.instances[i], natural: rows.natural, row, values: zeros, gradient: false, png: false };
    const explanation = { target, score: 0, ...extraOf(manifest, space, row, request), ...mapAttribution(manifest, space, view) };
    return sentJsonBound(explanation) + 1 + prediction + 1 + png;
  });
}

/** The sent bytes of the whole answer at most, the fixed part apart (undefined: not known ahead). */
export function answerBound(manifest: Manifest, space: InputSpace, rows: Rows, request: ExplainRequest): { fixed: number; instances: number[]; total: number } | undefined {
  const instances = instanceBounds(manifest, space, rows, request);
  if (!instances) return undefined;
  const fixed = FIXED_BYTES + sentJsonBound({ modelName: manifest.name, target: request.target ?? 'predicted' });
  return { fixed, instances, total: instances.reduce((a, b) => a + b, fixed) };
}

/**
 * A 413 before any pass runs when the answer cannot fit `limit`, naming its size, the limit and
 * the most instances (the first ones) whose answer fits, or what else would let one through.
 */
export function checkAnswerSize(manifest: Manifest, space: InputSpace, rows: Rows, request: ExplainRequest, limit: AnswerLimit | undefined, budget: MemoryBudget): void {
  const bound = limit && answerBound(manifest, space, rows, request);
  if (!limit || !bound || bound.total <= limit.bytes) return;
  if (limit.compressed) checkBuiltAnswer(bound, rows.count, limit, budget);
  else refuseSent(bound, manifest, space, rows, request, limit);
}

/** The first instances whose parts, with the answer's fixed part, fit `bytes`. */
function instancesFitting({ fixed, instances }: { fixed: number; instances: number[] }, bytes: number): number {
  let fit = 0;
  for (let sum = fixed; fit < instances.length && sum + instances[fit] <= bytes; fit++) sum += instances[fit];
  return fit;
}

/**
 * An answer sent compressed: the safety margin of the memory budget (runtime/memory.ts) holds the
 * building of an answer of `limit.bytes`, as of any answer sent plain; past that, each byte of its
 * JSON takes BUILT_BYTES_PER_ANSWER_BYTE of the budget. Without this, 3 instances of a
 * 600 x 600 x 3 model built a 25 MB answer in a 256 MB function (314 MB RSS: an out-of-memory
 * kill in Lambda) before it was measured.
 */
function checkBuiltAnswer(bound: { fixed: number; instances: number[]; total: number }, count: number, limit: AnswerLimit, budget: MemoryBudget): void {
  const need = (bound.total - limit.bytes) * BUILT_BYTES_PER_ANSWER_BYTE;
  if (need <= budget.availableFor(need)) return;
  const fit = instancesFitting(bound, limit.bytes + budget.promisable() / BUILT_BYTES_PER_ANSWER_BYTE);
  const instead = fit > 0 ? `at most ${fit} of these ${count} instances fit: send ${fit === 1 ? 'one' : fit} at a time` : 'not even one instance fits';
  throw new PayloadTooLargeError(
    `the answer's JSON would be up to ${megabytes(bound.total)} before it is compressed; building it past the first ${megabytes(limit.bytes)} takes ${megabytes(need)} of memory (${BUILT_BYTES_PER_ANSWER_BYTE} bytes for each of its bytes), and this function can give ${budget.describe()}: ${instead}, or explain them with modelctl explain, which has no such limit`,
  );
}

/** An answer sent as built: over the limit, whatever memory there is. */
function refuseSent(
  bound: { fixed: number; instances: number[]; total: number },
  manifest: Manifest,
  space: InputSpace,
  rows: Rows,
  request: ExplainRequest,
  limit: AnswerLimit,
): never {
  const { fixed, total } = bound;
  const fit = instancesFitting(bound, limit.bytes);
  const withoutPng = fit === 0 && request.format === 'png' ? instanceBounds(manifest, space, rows, { ...request, format: 'json' })?.[0] : undefined;
  const instead =
    fit > 0
      ? `at most ${fit} of these ${rows.count} instances fit: send ${fit === 1 ? 'one' : fit} at a time`
      : withoutPng !== undefined && fixed + withoutPng <= limit.bytes
        ? 'not even one instance fits with its PNG: ask without format=png'
        : 'not even one instance fits: explain it with modelctl explain, which has no such limit';
  const [answer, most] = megabytesOver(total, limit.bytes);
  throw new PayloadTooLargeError(
    `the answer would be up to ${answer}, over the ${most} a Lambda function can return: ${instead}${limit.otherwise ? `, or ${limit.otherwise}` : ''}`,
  );
}
