/**
 * Time budgets. A synchronous request must answer before its function's timeout (29 s behind API
 * Gateway): past it Lambda ends the execution environment, so the client gets a 504 after paying
 * for the whole wait, and the next request to that function starts cold. Requests given a time
 * limit (predict, its images' decoding included; explain; synchronous evaluate) are timed as they
 * go: once the work done says the rest cannot end before the timeout, the request ends with a 413
 * naming the figures, instead of running into it.
 */
import { PayloadTooLargeError } from '../errors.js';

/** The time the function has left (Lambda's context.getRemainingTimeInMillis). */
export interface TimeLimit {
  remainingMs(): number;
  /** What the request sent more of than fits, in its own words (TF Serving's :classify: "examples"), for the refusal's remedy. */
  noun?: string;
  /** What runs the same work with no request timeout (batch scoring for predict), for the refusal's remedy. */
  elsewhere?: string;
}

/**
 * Kept for what follows the last chunk (the answer's values read back and serialised, the log
 * line) and for the spread of chunk times on a shared machine: a projection this close to the
 * timeout is not trusted.
 */
const RESERVE_MS = 2000;

/**
 * The share of the time left that a refusal's count of what fits is figured on: that smaller
 * request is timed afresh, with its own start (decoding, the first chunk's measure) before the
 * same pace. Figured on all of it, kernelShap's 413 named 192 of 2049 rows, and 192 were refused
 * (184 fitted then).
 */
const PROMISED_SHARE = 0.8;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The remedy's second half, where something runs the same work with no request timeout. */
const orElsewhere = (limit: TimeLimit): string => (limit.elsewhere ? `, or run it where no request timeout applies (${limit.elsewhere})` : '');

/**
 * The pace of one run of `total` rows. The clock starts after the first chunk (a pass not yet
 * measured runs one row under tf.profile, slower than the rest), and each later chunk is checked.
 *
 * When the whole run would fit in one or two chunks, no check would come before the timeout; so
 * while no chunk of this run is timed and the time of a row known so far (the profiled row, or the
 * pace of an earlier run through the same model) says the rest may not fit, the next chunk is cut
 * to a quarter of the time left at that pace. A row alone is slower than a row in a batch (per-call
 * overhead), so the cut comes early if anything, and never for a run that pace says fits: those
 * run in the chunks they always did.
 */
export class Pace {
  private started = 0;
  private from = 0;
  private knownRowMs: number | undefined;

  /** `unit`: what `total` counts; `scope`: what the share in a refusal is of (the whole request, or one pass of several). */
  constructor(
    private readonly limit: TimeLimit | undefined,
    private readonly total: number,
    private readonly what: string,
    private readonly unit = 'rows',
    private readonly scope = 'this work',
  ) {}

  /** Starts the clock with `done` rows already done; `rowMs`: what a row took so far, when known. */
  start(done: number, rowMs?: number): void {
    this.started = performance.now();
    this.from = done;
    this.knownRowMs = rowMs;
  }

  /** Milliseconds per row: this run's pace once a chunk is timed, else what was known at start. */
  rowMs(done: number): number | undefined {
    return done > this.from ? (performance.now() - this.started) / (done - this.from) : this.knownRowMs;
  }

  private left(): number {
    return (this.limit?.remainingMs() ?? Number.POSITIVE_INFINITY) - RESERVE_MS;
  }

  /** `rows`, the next chunk as memory allows, cut while no chunk of this run is timed and the known pace says the rest may not fit. */
  cap(rows: number, done: number): number {
    const rowMs = this.knownRowMs;
    if (this.limit === undefined || rowMs === undefined || done > this.from) return rows;
    const left = this.left();
    if (rowMs * (this.total - done) <= left) return rows;
    return Math.max(1, Math.min(rows, Math.floor(left / 4 / Math.max(rowMs, 1e-3))));
  }

  /** After a chunk, `done` rows done in all: a 413 when the rest, at the pace since start, would end past the limit. */
  check(done: number): void {
    if (this.limit === undefined || done >= this.total || done <= this.from) return;
    const elapsed = performance.now() - this.started;
    const rest = (elapsed / (done - this.from)) * (this.total - done);
    const left = this.left();
    if (rest <= left) return;
    const share = (done + ((PROMISED_SHARE * Math.max(0, left)) / elapsed) * (done - this.from)) / this.total;
    const each = elapsed / (done - this.from);
    // Rows done before the clock started (a first row timed alone) are named, so the counts add up to the total.
    const before = this.from === 0 ? '' : `the first ${this.from === 1 ? 'was timed alone' : `${this.from} were timed in one call`}, and the next `;
    throw new PayloadTooLargeError(
      `${this.what}: ${this.total} ${this.unit}, of which ${before}${done - this.from} took ${seconds(elapsed)} (${each < 10 ? each.toFixed(2) : Math.round(each)} ms each); ` +
        `the other ${this.total - done} would take about ${seconds(rest)}, and this function has ${seconds(Math.max(0, left))} left before its timeout (with ${seconds(RESERVE_MS)} kept to answer). ` +
        `About ${percent(share)} of ${this.scope} fits (${Math.floor(share * this.total)} of its ${this.total} ${this.unit}): ask for less (fewer ${this.limit.noun ?? 'steps, samples, instances or rows'})${orElsewhere(this.limit)}`,
    );
  }
}

/** A share as a percentage to read: whole from 1%, one significant digit below it (6 rows of 1024 are 0.6%, not 0%). */
function percent(share: number): string {
  const value = share * 100;
  return `${value >= 1 ? Math.floor(value) : Number(value.toPrecision(1))}%`;
}

/**
 * For work whose total is not known ahead (a data set streamed from the store), before its next
 * chunk: a 413 when that chunk, at the pace of the last one, would end past the limit.
 */
export function checkNextChunkFits(limit: TimeLimit | undefined, lastChunkMs: number, what: string, remedy: string): void {
  if (limit === undefined) return;
  const left = limit.remainingMs() - RESERVE_MS;
  if (lastChunkMs <= left) return;
  throw new PayloadTooLargeError(
    `${what}; the next chunk would take about ${seconds(lastChunkMs)}, and this function has ${seconds(Math.max(0, left))} left before its timeout ` +
      `(with ${seconds(RESERVE_MS)} kept to answer): ${remedy}`,
  );
}

/**
 * Before the first row of a size not yet timed through the model (one large image is a whole
 * request, and a row is not cut): a 413 when the time a row of a smaller size took, scaled by the
 * values each holds, says it cannot end before the limit. A model's work grows at least with its
 * input's values (convolutions, attention), so the scaled time is what the row takes at least.
 */
export function checkScaledRowFits(limit: TimeLimit | undefined, scaled: { ms: number; basis: string } | undefined, what: string): void {
  if (limit === undefined || scaled === undefined) return;
  const left = limit.remainingMs() - RESERVE_MS;
  if (scaled.ms <= left) return;
  throw new PayloadTooLargeError(
    `${what}: one row would take about ${seconds(scaled.ms)} (${scaled.basis}), and this function has ${seconds(Math.max(0, left))} left before its timeout ` +
      `(with ${seconds(RESERVE_MS)} kept to answer): send smaller inputs${orElsewhere(limit)}`,
  );
}
