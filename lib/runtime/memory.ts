/**
 * Memory budgets. Work that grows with a request (rows of a batch, steps and samples of an
 * explanation, a training batch) runs in chunks sized to fit the bytes this function can spare,
 * or is refused before anything is allocated when not even one row fits.
 *
 * The budget: the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE) less a reserve for all that
 * is not tensors, capped by the wasm heap TF.js can address safely (past 2 GiB its allocations fail
 * with "memory access out of bounds"), less the tensors already alive (cached models' weights), with
 * a margin. The reserve is measured (runtime/footprint.ts: the function's resident memory outside
 * tensors, which holds the request being planned: the process's RSS, or in a worker thread under
 * serverless offline its isolate's own memory) plus a safety margin for what the request still makes outside
 * tensors, never less than 3/16 of the function up to 384 MB: a 256 MB function serves small
 * models, and a function of 2048 MB or more plans no larger chunks than a fixed 384 MB let it.
 *
 * What one row costs is measured, not guessed: the first chunk of a pass through a model runs one
 * row under tf.profile, whose peak bytes (the row's activations, gradients, temporaries, at their
 * fullest) become the model's cost per row for that pass, remembered for the process.
 */
import * as tf from '@tensorflow/tfjs-core';
import { size } from '../bytes.js';
import { PayloadTooLargeError } from '../errors.js';
import { bytesFreedWithin } from './backend.js';
import { bytesOutsideTensors, collectBeforeRefusing, roomAPassMayLose, tensorRoomHeldSinceEarlierRequests, warmUpAhead } from './footprint.js';
import { MeasuredCosts } from './measuredCosts.js';
import { checkScaledRowFits, Pace, type TimeLimit } from './timeLimit.js';
import type { TensorData } from '../tensors/data.js';

/**
 * What a request still makes outside tensors once its work is planned, above the measured RSS:
 * its answer (values read back, their JSON, at most 6 MB of it), garbage the JS heap holds until
 * its next collection (the young generation alone grows to tens of MB), heap pages touched for
 * the first time. With it, a 256 MB function's peak RSS stayed at 192 MB or less through the
 * largest requests it accepts (about 11,000 digits in one predict, a 4.6 MB body; the largest
 * image batch it says fits: test/integration/smallFunction.test.ts).
 */
const SAFETY_MARGIN_BYTES = 64 * 2 ** 20;
/** The least reserve, as a share of the function and in bytes (384 MB: a 2048 MB function's fixed reserve before it was measured). */
const FLOOR_SHARE = 3 / 16;
const FLOOR_MAX_BYTES = 384 * 2 ** 20;
/** The wasm heap's safe extent: 32-bit offsets past 2 GiB break the backend's allocations. */
const WASM_HEAP_LIMIT_BYTES = 2 * 2 ** 30;
/** The heap fragments: plan for this share of what is free. */
const MARGIN = 0.85;
/**
 * What a fresh measure of the same state may be above this one, for figures a refusal names for
 * the client's next request (promisable). The same request's first refusal in fresh 256 MB
 * functions measured 71 to 75 MB resident outside tensors, 78 MB with another such process beside
 * it: native memory that varies from process to process, not garbage (measured after a collection).
 */
const PROMISE_MARGIN_BYTES = 8 * 2 ** 20;

export interface MemoryLimits {
  /** The Lambda's memory size in bytes (AWS_LAMBDA_FUNCTION_MEMORY_SIZE). */
  functionBytes: number;
  /** MEMORY_BUDGET_BYTES: a fixed budget instead of the derived one (tests, unusual hosts). */
  overrideBytes?: number;
  /** The setting that sizes the function, for a refusal that names it (default serverless.yml's memorySize param). */
  sizeSetting?: string;
}

/** What the function keeps from tensors now: measured, or the floor, whichever is more. */
interface Reserve {
  bytes: number;
  /** The resident memory outside tensors it was measured from (undefined: the floor was more). */
  measured?: number;
}

/**
 * The wasm heap never shrinks: grown by earlier requests past the room the function has for
 * tensors now (memory outside them has grown since), it holds part of the margin this request's
 * own data was to have, and the function gives that much less. After one integrated-gradients
 * explanation of 5 images, a 256 MB function held 97 MB outside tensors and a 109 MB heap, 14 MB
 * past its room; served again, the same request peaked at 242 to 246 MiB (229 fresh).
 */
function overheld(ceiling: number): number {
  // A reserve larger than the function leaves no room for tensors (a ceiling below 0): what the
  // heap holds is then over that room by itself, not by more.
  return Math.max(0, tensorRoomHeldSinceEarlierRequests() - Math.max(0, ceiling));
}

export class MemoryBudget {
  constructor(readonly limits: MemoryLimits) {}

  /** The setting that sizes the function this budget is for. */
  private get sizeSetting(): string {
    // What a user sets on Lambda (serverless.yml's memorySize, which Lambda hands the function as
    // AWS_LAMBDA_FUNCTION_MEMORY_SIZE), and what sets it elsewhere (modelctl, a test).
    return this.limits.sizeSetting ?? "serverless.yml's memorySize; AWS_LAMBDA_FUNCTION_MEMORY_SIZE outside Lambda";
  }

  private floor(): number {
    return Math.min(FLOOR_MAX_BYTES, this.limits.functionBytes * FLOOR_SHARE);
  }

  private reserve(): Reserve {
    const measured = bytesOutsideTensors();
    const floor = this.floor();
    return measured + SAFETY_MARGIN_BYTES > floor ? { bytes: measured + SAFETY_MARGIN_BYTES, measured } : { bytes: floor };
  }

  /** What tensors, the loaded weights included, may take with this reserve kept. */
  private ceiling(reserve: Reserve): number {
    return Math.min(this.limits.functionBytes - reserve.bytes, WASM_HEAP_LIMIT_BYTES);
  }

  /** Bytes the tensors of one operation may take now. */
  available(): number {
    if (this.limits.overrideBytes !== undefined) return this.limits.overrideBytes;
    const ceiling = this.ceiling(this.reserve());
    return Math.max(0, Math.floor((ceiling - overheld(ceiling) - tf.memory().numBytes) * MARGIN));
  }

  /**
   * Bytes the tensors of one operation may take now, asked by work that needs `bytes` and is
   * refused when they are not there. When they are not, the garbage the JS heap holds is collected
   * (runtime/footprint.ts: once, where the process can) and the budget measured again: a refusal
   * then counts only what is still referenced, and so do its figures (describe() reads the same
   * measure). Work that fits costs no collection.
   */
  availableFor(bytes: number): number {
    const now = this.available();
    if (now >= bytes || this.limits.overrideBytes !== undefined || !collectBeforeRefusing()) return now;
    return this.available();
  }

  /**
   * Bytes a later request can count on, for a refusal that names the largest request that fits:
   * that request is measured afresh (in another process, or in this one later), a little higher
   * or lower. A fixed budget (MEMORY_BUDGET_BYTES) is not measured: all of it.
   */
  promisable(): number {
    const now = this.available();
    if (this.limits.overrideBytes !== undefined) return now;
    return Math.max(0, now - PROMISE_MARGIN_BYTES - MARGIN * warmUpAhead());
  }

  /**
   * What a pass may lose of this budget to its own chunks, for work planned before it runs
   * (runtime/footprint.ts's roomAPassMayLose). A fixed budget is not measured: nothing.
   */
  roomAPassMayLose(): number {
    return this.limits.overrideBytes === undefined ? roomAPassMayLose() : 0;
  }

  /** The budget in words, for an answer that refuses work. */
  describe(): string {
    if (this.limits.overrideBytes !== undefined) return `${size(this.limits.overrideBytes)} (MEMORY_BUDGET_BYTES)`;
    const reserve = this.reserve();
    const why =
      reserve.measured === undefined
        ? `${size(reserve.bytes)} for Node (3/16 of the function, at most ${size(FLOOR_MAX_BYTES)})`
        : `${size(reserve.bytes)} for Node and the request (${size(reserve.measured)} resident outside tensors, a ${size(SAFETY_MARGIN_BYTES)} margin)`;
    const grownPast = overheld(this.ceiling(reserve));
    const grown = grownPast > 0 ? `, ${size(grownPast)} of wasm heap that earlier requests grew past the room left` : '';
    return `${size(this.available())} (a ${size(this.limits.functionBytes)} function, less ${why}${grown} and ${size(tf.memory().numBytes)} of loaded weights, at most ${size(WASM_HEAP_LIMIT_BYTES)} of wasm heap)`;
  }

  /** The function memory size (MB) at which `bytes` would fit in one chunk (this process's footprint as it is). */
  /**
   * What would give `bytes`, for a refusal: a function of at least so many MB, or, under a fixed
   * budget (which the function's size does not move), a MEMORY_BUDGET_BYTES of at least them; none
   * when they are past what the wasm heap can hold.
   */
  largerSettingFor(bytes: number): string {
    if (this.limits.overrideBytes !== undefined) return `a MEMORY_BUDGET_BYTES of at least ${Math.ceil(bytes)}`;
    // Past the wasm heap's limit no function is large enough: naming one (9164 MB) promised what it then refused.
    if (bytes / MARGIN + tf.memory().numBytes > WASM_HEAP_LIMIT_BYTES) return `no function size (the wasm heap stops at ${size(WASM_HEAP_LIMIT_BYTES)})`;
    return `a function of at least ${this.functionSizeFor(bytes)} MB (${this.sizeSetting})`;
  }

  functionSizeFor(bytes: number): number {
    const needed = bytes / MARGIN + tf.memory().numBytes;
    // The size named is one a fresh process then promises the bytes in (promisable): its measure may
    // be a little higher, and its warm-up is still ahead (this one's measure holds what is done of it).
    // Without them, 702 MB was named for an explanation that a 702 MB function refused, asking 706.
    const measured = needed + PROMISE_MARGIN_BYTES / MARGIN + warmUpAhead() + bytesOutsideTensors() + SAFETY_MARGIN_BYTES;
    // With the floor as reserve: F - 3F/16 >= needed while 3F/16 is under 384 MB (F < 2048 MB), then F - 384 MB >= needed.
    const floorCapAt = FLOOR_MAX_BYTES / FLOOR_SHARE;
    const underFloor = needed / (1 - FLOOR_SHARE) <= floorCapAt ? needed / (1 - FLOOR_SHARE) : needed + FLOOR_MAX_BYTES;
    return Math.ceil(Math.max(measured, underFloor) / 2 ** 20);
  }
}

/** A pass through a model: inference; a forward and backward pass to the input (explanations). */
export type Pass = 'forward' | 'gradient';

/**
 * Peak bytes per row, by model, pass and row shape, as measured. The shape is part of the key: a
 * model with free dimensions ([null, null, 1]) costs per row what its rows' size makes it, and a
 * cost measured on 8 x 8 rows let 200 x 200 ones run in chunks 5.5 times the budget. The shapes
 * are the callers': only the most recently used are kept (measuredCosts.ts).
 */
const perRow = new MeasuredCosts<number>();

const costKey = (pass: Pass, rowShape: readonly number[] | undefined) => `${pass} ${rowShape?.join('x') ?? ''}`;

/** The measured cost of one row (undefined until a pass has run on rows of this shape, or after its shape was dropped: measuredCosts.ts). */
export function costPerRow(model: object, pass: Pass, rowShape?: readonly number[]): number | undefined {
  return perRow.get(model, costKey(pass, rowShape));
}

/** How far a measured row's cost is scaled by its values (sizeLadder.ts measures rows in between). */
export const SCALE_LIMIT = 16;

/**
 * A pass at a size not run before grows the wasm heap past its tensors' peak, its free room in
 * pieces of the sizes before: ESRGAN x2 at 830 x 625 and 1210 x 905 took the heap to 1.5 times
 * the pass's measured peak (1015 of a 1024 MB function). A scaled cost counts that.
 */
const NEW_SIZE_GROWTH = 1.5;

/**
 * Until a row of this shape is measured in this pass: its cost scaled from the measured row of the
 * same rank nearest in values, within SCALE_LIMIT times them either way, and grown by
 * NEW_SIZE_GROWTH. An image model of any size holds, row for row, about what its pixels make it,
 * less a part that does not grow with them: scaled from a 1 x 1 image, that part (552 bytes of
 * it) asked 258 MB for a photo that took 137, so rows much smaller say nothing (sizeLadder.ts).
 */
export function scaledCostPerRow(model: object, pass: Pass, rowShape: readonly number[] | undefined): { bytes: number; basis: string } | undefined {
  if (rowShape === undefined || rowShape.length === 0 || rowShape.some((d) => !(d > 0))) return undefined;
  const values = valuesIn(rowShape);
  let basis: { dims: number[]; cost: number; distance: number } | undefined;
  for (const [key, cost] of perRow.entries(model)) {
    const [measuredPass, joined = ''] = key.split(' ');
    const dims = joined === '' ? [] : joined.split('x').map(Number);
    if (measuredPass !== pass || dims.length !== rowShape.length || dims.some((d) => !(d > 0))) continue;
    const distance = Math.abs(Math.log(values / valuesIn(dims)));
    if (distance <= Math.log(SCALE_LIMIT) && (!basis || distance < basis.distance)) basis = { dims, cost, distance };
  }
  if (basis === undefined) return undefined;
  return { bytes: (NEW_SIZE_GROWTH * basis.cost * values) / valuesIn(basis.dims), basis: `scaled from a row of ${basis.dims.join(' x ')} measured` };
}

/** Milliseconds a row of a pass took in the last timed chunk, by model, pass and row shape (the time budget's starting pace; the same keys, as many kept). */
const rowTimes = new MeasuredCosts<number>();

const knownRowMs = (plan: ChunkPlan) => rowTimes.get(plan.model, costKey(plan.pass, plan.rowShape));

function rememberRowMs(plan: ChunkPlan, ms: number | undefined): void {
  if (ms !== undefined) rowTimes.set(plan.model, costKey(plan.pass, plan.rowShape), ms);
}

const valuesIn = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The most a timed row's values are scaled by to judge a larger row (scaledRowMs). */
const MAX_SCALING = 16;

/**
 * A row of this plan's shape, timed by scaling the largest smaller row of the same rank timed
 * through the model in this pass: MAXIM's 512 x 512 image, a row of 256 x 256 having taken 23 s,
 * ran into the timeout rather than being refused.
 */
function scaledRowMs(plan: ChunkPlan): { ms: number; basis: string } | undefined {
  const shape = plan.rowShape;
  if (shape === undefined || shape.some((d) => d < 0)) return undefined;
  const values = valuesIn(shape);
  let basis: { dims: number[]; ms: number } | undefined;
  for (const [key, ms] of rowTimes.entries(plan.model)) {
    const [pass, joined = ''] = key.split(' ');
    const dims = joined === '' ? [] : joined.split('x').map(Number);
    if (pass !== plan.pass || dims.length !== shape.length || dims.some((d) => !(d > 0))) continue;
    if (valuesIn(dims) > values || (basis && valuesIn(dims) <= valuesIn(basis.dims))) continue;
    basis = { dims, ms };
  }
  if (basis === undefined) return undefined;
  const ratio = values / valuesIn(basis.dims);
  // A small row's time is mostly a call's fixed cost, which scaling would multiply too: a thumbnail
  // would refuse a photo. Only a row at most MAX_SCALING times larger is judged from it.
  if (ratio > MAX_SCALING) return undefined;
  return {
    ms: basis.ms * ratio,
    basis: `a row of ${basis.dims.join(' x ')} took ${(basis.ms / 1000).toFixed(1)} s, and this one of ${shape.join(' x ')} holds ${ratio.toFixed(1)} times its values`,
  };
}

type Timed = { time(f: () => void): Promise<{ kernelMs: number }> };
type ProfileState = { profiling: boolean; activeProfile: { kernels: { totalBytesSnapshot: number }[] } };

/**
 * Kernels timed synchronously, each run also watched for the tensors it makes and frees inside
 * itself (runtime/backend.ts's bytesFreedWithin): the profile's snapshot is of the bytes alive
 * once a kernel returned, and the wasm Mean under a global average pool, transposing its input
 * first, held twice what the snapshot after it said (a convolution model's measured cost per row
 * was half of what its calls took, and a 256 MB function served 16 images at 266 MB). A throw
 * reaches the caller (see profileKernels).
 */
function timedKernels(): { time: Timed['time']; peaks: (kernels: { totalBytesSnapshot: number }[]) => number[] } {
  const within: number[] = [];
  const time: Timed['time'] = (f) => {
    const start = performance.now();
    within.push(bytesFreedWithin(f));
    return Promise.resolve({ kernelMs: performance.now() - start });
  };
  // One time() per kernel the profile records, in the same order (a kernel that throws adds neither).
  return { time, peaks: (kernels) => kernels.map((k, i) => k.totalBytesSnapshot + (within[i] ?? 0)) };
}

/**
 * Runs `run`, which must be synchronous, under a profile of its own: the most tensor bytes alive
 * during each kernel it ran, in order. Nothing else runs between the first kernel and the last, so no
 * other request's tensors come or go inside the figures (tf.profile spans awaits, during which
 * any request's kernels are recorded and its tensors counted). A profile already open (tf.profile
 * across its awaits) is put back as it was, without these kernels.
 */
export function profileKernelsSync(run: () => void): number[] {
  const engine = tf.engine();
  const state = engine.state as unknown as ProfileState;
  const backend = engine.backend as unknown as Timed;
  const own = Object.getOwnPropertyDescriptor(backend, 'time');
  const outer = { profiling: state.profiling, kernels: state.activeProfile.kernels };
  const kernels: ProfileState['activeProfile']['kernels'] = [];
  const timed = timedKernels();
  backend.time = timed.time;
  state.profiling = true;
  state.activeProfile.kernels = kernels;
  try {
    run();
    return timed.peaks(kernels);
  } finally {
    state.profiling = outer.profiling;
    state.activeProfile.kernels = outer.kernels;
    if (own) Object.defineProperty(backend, 'time', own);
    else delete (backend as Partial<Timed>).time;
  }
}

/**
 * Runs `run` under tf.profile; the most tensor bytes alive during each kernel it ran, in order.
 *
 * Under a profile, TF.js times each kernel with the backend's async time(): a kernel that throws
 * (a kernel the backend lacks, a gradient TF.js cannot take) rejects that promise, which nothing
 * awaits, so Node ends the process, and the caller gets a TypeError in place of the error; and
 * the profile is left on for every later kernel. So kernels are timed here synchronously (a throw
 * reaches the caller as it would outside a profile), and the profile is turned off after a throw.
 */
export async function profileKernels(run: () => Promise<unknown> | unknown): Promise<number[]> {
  const engine = tf.engine();
  const backend = engine.backend as unknown as Timed;
  const own = Object.getOwnPropertyDescriptor(backend, 'time');
  const timed = timedKernels();
  backend.time = timed.time;
  try {
    const profile = await tf.profile(async () => {
      await run();
    });
    return timed.peaks(profile.kernels);
  } catch (error) {
    (engine.state as unknown as { profiling: boolean }).profiling = false;
    throw error;
  } finally {
    if (own) Object.defineProperty(backend, 'time', own);
    else delete (backend as Partial<Timed>).time;
  }
}

/**
 * Runs one row of a pass under tf.profile and remembers its peak bytes as the model's cost per row
 * (a call of `rows` rows, a fixed batch size, is measured whole and its peak shared among them).
 */
export async function measureRow(model: object, pass: Pass, runOneRow: () => Promise<unknown> | unknown, rowShape?: readonly number[], rows = 1): Promise<number> {
  const before = tf.memory().numBytes;
  const snapshots = await profileKernels(runOneRow);
  const cost = Math.max(1, (Math.max(...snapshots) - before) / rows);
  perRow.set(model, costKey(pass, rowShape), cost);
  return cost;
}

export interface ChunkPlan {
  model: object;
  /**
   * Before anything is measured: an upper estimate of one row's bytes (e.g. from a layers model's
   * topology), so a row that cannot fit is refused before it is tried.
   */
  estimate?: number;
  /** Where the estimate comes from, when not the topology (scaledCostPerRow's basis). */
  estimateBasis?: string;
  /**
   * For a model whose input leaves sizes open: the row, as a refusal names it, whose values are
   * this share of the plan's (its open sides shrunk alike), or undefined when none is worth naming.
   */
  smallerRow?: (share: number) => string | undefined;
  /** What the model is called in a refusal. */
  name: string;
  pass: Pass;
  /** Rows to run. */
  rows: number;
  /** Never more rows per chunk than this (MAX_BATCH). */
  maxRows: number;
  budget: MemoryBudget;
  /** The rows' shape (each input's, without the batch dimension), when the model's inputs leave it free. */
  rowShape?: readonly number[];
  /**
   * The batch size the model's signature fixes (tensors/fixedBatch.ts): every call takes exactly
   * this many rows, MAX_BATCH or not, and the caller pads a short last chunk.
   */
  batch?: number;
  /** The time the request has left, when it must answer before a timeout (runtime/timeLimit.ts). */
  time?: TimeLimit;
  /** Told after each chunk: a long run shows its progress (modelctl explain). */
  progress?: Progress;
  /**
   * Called once the first chunk has run (measured or not), before the time it took is judged and
   * before any other chunk: predict judges its answer's size there (RunLimits.firstOutputs), so
   * a request whose answer is too large is told so, not told a count that would answer in time.
   */
  afterFirstChunk?: () => void;
}

/** What a pass has done: its words (a forward pass through iris:1), rows done, rows in all. */
export type Progress = (pass: string, done: number, total: number) => void;

const PASS_WORDS: Record<Pass, string> = { forward: 'a forward pass', gradient: 'a forward and backward pass' };

/** Rows in the smallest call the model takes: its fixed batch size, else one. */
const smallestCall = (plan: ChunkPlan) => plan.batch ?? 1;

/** A 413: the row's bytes as measured, or as estimated from the topology before anything ran (an upper bound: "up to"). */
function refusal(plan: ChunkPlan, rowBytes: number, estimated: boolean): PayloadTooLargeError {
  const what = PASS_WORDS[plan.pass];
  const rows = smallestCall(plan);
  const bytes = rowBytes * rows;
  const unit = rows === 1 ? 'one row' : `one call of ${rows} rows (the model's fixed batch size)`;
  const needs = !estimated
    ? `needs ${size(bytes)}`
    : plan.estimateBasis
      ? `may need about ${size(bytes)} (${plan.estimateBasis}: not yet measured at this size)`
      : `may need up to ${size(bytes)} (an estimate from its layers: not yet measured)`;
  // Rows of open sizes cost what their size makes them: a smaller one may fit, for the next request
  // (promisable), its cost scaled as a size not run yet is, with its row twice (encoded, and the
  // call's copy) and the room its pass may lose, as a request's rows are counted (inputs/encode.ts);
  // a twentieth spared for what rounding the sides down does not take back.
  const perRow = (estimated && plan.estimateBasis ? bytes : NEW_SIZE_GROWTH * bytes) + 8 * valuesIn(plan.rowShape ?? []);
  const smaller = plan.smallerRow?.((0.95 * (plan.budget.promisable() - plan.budget.roomAPassMayLose())) / perRow);
  const fits = smaller ? `a row of this size does not fit, one of ${smaller} would` : 'no request fits';
  return new PayloadTooLargeError(
    `${unit} of ${what} through ${plan.name} ${needs}; this function can give ${plan.budget.describe()}: ${fits}; ` +
      `${plan.budget.largerSettingFor(bytes)} would run it ${rows === 1 ? 'one row' : 'one call'} at a time`,
  );
}

/**
 * Refuses now, before any other work, a plan of which not one row fits: by its measured cost, or
 * its estimate until measured (a request's costliest pass is checked before its cheaper ones run).
 */
export function checkOneRowFits(plan: ChunkPlan): void {
  const measured = costPerRow(plan.model, plan.pass, plan.rowShape);
  const cost = measured ?? plan.estimate;
  if (cost === undefined) return;
  const callBytes = cost * smallestCall(plan);
  if (callBytes > plan.budget.availableFor(callBytes)) throw refusal(plan, cost, measured === undefined);
}

/** Rows per chunk for this plan now, or a 413 naming the figures when not one row fits. */
export function rowsPerChunk(plan: ChunkPlan): number {
  const cost = costPerRow(plan.model, plan.pass, plan.rowShape);
  if (cost === undefined) return 1;
  const rows = Math.floor(plan.budget.availableFor(cost) / cost);
  if (rows < 1) throw refusal(plan, cost, false);
  return Math.min(plan.maxRows, rows);
}

/**
 * Runs rows [0, plan.rows) in chunks that fit the budget, in order: `run(from, to)` does one chunk.
 * The first chunk of a pass not yet measured is one row, profiled.
 */
export async function inChunks(plan: ChunkPlan, run: (from: number, to: number) => Promise<void>): Promise<void> {
  const pace = new Pace(plan.time, plan.rows, `${PASS_WORDS[plan.pass]} through ${plan.name}`, 'rows', 'this pass');
  if (plan.batch !== undefined) return inFixedChunks(plan, plan.batch, run, pace);
  let from = 0;
  if (costPerRow(plan.model, plan.pass, plan.rowShape) === undefined && plan.rows > 0) {
    if (plan.estimate !== undefined && plan.estimate > plan.budget.availableFor(plan.estimate)) throw refusal(plan, plan.estimate, true);
    checkScaledRowFits(plan.time, scaledRowMs(plan), `${PASS_WORDS[plan.pass]} through ${plan.name}`);
    const started = performance.now();
    await measureRow(plan.model, plan.pass, () => run(0, 1), plan.rowShape);
    from = 1;
    told(plan, from);
    // Remembered even when this run has no other row: the next run's first chunk is cut by it.
    const oneRowMs = performance.now() - started;
    if (knownRowMs(plan) === undefined) rememberRowMs(plan, oneRowMs);
    plan.afterFirstChunk?.();
    pace.start(from, oneRowMs);
  } else pace.start(from, knownRowMs(plan));
  while (from < plan.rows) {
    const to = Math.min(plan.rows, from + pace.cap(rowsPerChunk(plan), from));
    await run(from, to);
    if (from === 0) plan.afterFirstChunk?.();
    from = to;
    told(plan, from);
    rememberRowMs(plan, pace.rowMs(from));
    pace.check(from);
  }
}

/**
 * Rows [0, plan.rows) in chunks of the model's fixed batch size (the last may be short: the caller
 * pads it), each checked against the budget first; the first call of a pass not yet measured is profiled.
 */
async function inFixedChunks(plan: ChunkPlan, batch: number, run: (from: number, to: number) => Promise<void>, pace: Pace): Promise<void> {
  pace.start(0);
  for (let from = 0; from < plan.rows; from += batch) {
    const to = Math.min(plan.rows, from + batch);
    checkOneRowFits(plan);
    if (costPerRow(plan.model, plan.pass, plan.rowShape) === undefined) {
      await measureRow(plan.model, plan.pass, () => run(from, to), plan.rowShape, batch);
      if (from === 0) plan.afterFirstChunk?.();
      pace.start(to);
    } else {
      await run(from, to);
      if (from === 0) plan.afterFirstChunk?.();
      pace.check(to);
    }
    told(plan, to);
  }
}

/** The plan's progress callback, after `done` rows. */
function told(plan: ChunkPlan, done: number): void {
  plan.progress?.(`${PASS_WORDS[plan.pass]} through ${plan.name}`, done, plan.rows);
}

/** What bounds a run: rows per model call (MAX_BATCH) and the bytes it may take. */
export interface RunLimits {
  maxBatch: number;
  budget: MemoryBudget;
  /** The time a synchronous request has left before its function's timeout (none: no timeout applies). */
  time?: TimeLimit;
  /** Told after each chunk of a pass (modelctl shows it; the functions do not ask). */
  progress?: Progress;
  /**
   * Told a forward pass's first chunk's outputs (`rows` of the pass's `ofRows`) before the next
   * chunk runs: predict judges its answer's size from them (api/answerAhead.ts), and throws
   * to stop the pass.
   */
  firstOutputs?: (outputs: TensorData[], rows: number, ofRows: number) => void;
}

/** Limits for tools and tests outside a Lambda: MAX_BATCH rows, the budget of a 2048 MB function. */
export function localLimits(maxBatch = 256): RunLimits {
  return { maxBatch, budget: new MemoryBudget({ functionBytes: 2048 * 2 ** 20 }) };
}
