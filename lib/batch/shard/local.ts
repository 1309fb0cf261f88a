/**
 * A sharded run on this machine: the plan, N worker processes scoring ranges (each its own TF.js,
 * so every core works), and the join, as the Step Functions state machine runs them in AWS, except
 * that the join starts with the scoring and copies each range's part once it and those before it
 * are scored. A worker that dies mid-range has its range given to another (scoring a range again
 * rewrites the same parts). Used by `modelctl batch` and by the tests that run the whole plan
 * without AWS.
 *
 * What an earlier run into the same --out left (Ctrl-C: its plan, parts, range results, temporary
 * uploads) is this run's to use or remove: a range it scored is reused only when its result is of
 * exactly one of this plan's ranges (range.ts: same file version, bytes and model version); every
 * other range is scored again over its parts, and whatever is left under the parts prefix goes once
 * the run ends, succeeded or failed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { heldBy, letGo, whileClaimed } from '../claim.js';
import type { ModelLoader } from '../../loader/index.js';
import type { ModelRef } from '../../registry/index.js';
import { BadRequestError, ConflictError, IntegrityError, isStoreFailure, isStoreRefusal, ServiceError, UnavailableError } from '../../errors.js';
import { shardOutputsFor, type BatchInput, type BatchOutputs, type ShardOutputs } from '../paths.js';
import type { BatchIO } from '../run.js';
import type { BatchManifest } from '../state.js';
import { type ObjectInfo, type ObjectStore, versionOf } from '../../store/index.js';
import { failShardedRun } from './fail.js';
import { joinRanges } from './join.js';
import { planRanges, type ShardPlan, type ShardRange } from './plan.js';

/** What a worker needs to score a range: where things are, and the range. */
export interface RangeTask {
  sourceUri: string;
  outputUri: string;
  input: BatchInput;
  outputPrefix: string;
  plan: ShardPlan;
  range: ShardRange;
}

/** What a worker reports after a range: its RSS after it, the most it has held so far, and the CPU time it spent over the wall time it took. */
interface RangeUsage {
  rssBytes: number;
  /** The process's RSS high-water mark (VmHWM): flat from range to range when nothing is kept. */
  peakRssBytes: number;
  cpuMs: number;
  wallMs: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | ({ type: 'done'; index: number } & Partial<RangeUsage>)
  | { type: 'failed'; index: number; error: string; kind: FailureKind; publicMessage?: string };

/**
 * What a worker's failure was, so the parent rebuilds an error the failed manifest words as a run
 * through one function would (run.ts's recordFailure): the file's fault in its own words, a damaged
 * model version as such, anything else as internal.
 */
export type FailureKind = 'client' | 'damaged' | 'store' | 'internal';

/**
 * 'store': the store failed in a way that may pass (a dropped connection, a 5xx, throttling past
 * the SDK's own retries; a model that could not be loaded for it), which the range is tried again
 * for, as Step Functions retries a range task in AWS; a refusal (access denied) stays 'internal'.
 */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof IntegrityError) return 'damaged';
  if (error instanceof ServiceError && error.statusCode < 500) return 'client';
  if (error instanceof UnavailableError || (isStoreFailure(error) && !isStoreRefusal(error))) return 'store';
  return 'internal';
}

function failureOf(message: { index: number; error: string; kind: FailureKind; publicMessage?: string }, tries: number): Error {
  if (message.kind === 'client') return new BadRequestError(message.error);
  if (message.kind === 'store') {
    const failed = `range ${message.index} failed ${tries} times, the last because the store failed (${message.error})`;
    return new RangeFailedError(`${failed}: run the same command again: it resumes, keeping the ranges scored`);
  }
  // A damaged version or alias: the failed manifest says it in the words a client reads (cli/batchWorker.ts sends them).
  if (message.kind === 'damaged') return new IntegrityError(`range ${message.index}: ${message.error}`, { publicMessage: message.publicMessage });
  return new ServiceError(`range ${message.index}: ${message.error}`);
}

export interface LocalRunOptions {
  io: BatchIO;
  sourceUri: string;
  outputUri: string;
  input: BatchInput;
  outputs: BatchOutputs;
  outputPrefix: string;
  ref: ModelRef;
  loader: ModelLoader;
  workers: number;
  targetBytes: number;
  /** The worker program (cli/batchWorker.ts), and how to run it (tsx). */
  workerScript: string;
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * How long a worker may take over one range before it is killed and the range given to another:
   * the range function's timeout in AWS (serverless.yml), so that a hung worker cannot hold the run
   * forever. Default 900 s.
   */
  rangeTimeoutMs?: number;
  /**
   * Aborted when the run is interrupted (Ctrl-C, SIGTERM: cli/commands/batch.ts): a worker that then
   * dies (the signal reaches the whole process group) is not replaced, as a replacement would start
   * from a worker bundle being removed.
   */
  signal?: AbortSignal;
  /** Called when a worker starts a range (tests kill it then). */
  onRangeStart?: (index: number, pid: number) => void;
  /** Called at each phase (planned, workers ready, ranges scored, joined): the bench reports where time goes. */
  onPhase?: (phase: 'planned' | 'first worker ready' | 'scored' | 'joined') => void;
  /** Called when a worker finishes a range, with what it used (the bench watches RSS stay flat, and how many cores one worker keeps busy). */
  onRangeDone?: (index: number, pid: number, usage: Partial<RangeUsage>) => void;
}

/** The range function's timeout in AWS (serverless.yml's batchRange). */
export const DEFAULT_RANGE_TIMEOUT_MS = 900_000;

/** The pause before a range the store failed is tried again, times its attempts so far. */
const STORE_RETRY_MS = 1000;

/**
 * How many times a range is tried before the run fails: a range whose worker dies or runs out of
 * time every time (a row that crashes the backend, a model too slow for the timeout) must end the
 * run, not start worker after worker.
 */
const RANGE_ATTEMPTS = 3;

/** A range that failed every time it was tried: the failed manifest says which, as modelctl has no function log to point to. */
class RangeFailedError extends ServiceError {
  get publicMessage(): string {
    return this.message;
  }
}

/** How long a worker ended by SIGINT or SIGTERM waits for its replacement: time for this process's own handler of the same signal. */
const INTERRUPT_GRACE_MS = 250;

/** Why a range's worker ended before the range did, for the error that ends the run. */
function endOf(timedOutMs: number | undefined, code: number | null, signal: NodeJS.Signals | null): string {
  if (timedOutMs !== undefined) return `ran past the range timeout (${timedOutMs / 1000} s)`;
  return `exited (${signal ?? `code ${code}`})`;
}

export async function runLocally(options: LocalRunOptions): Promise<BatchManifest> {
  const { io, input } = options;
  const started = new Date().toISOString();
  const source = await io.source.head(input.key);
  if (!source) throw new BadRequestError(`no file ${input.key} in ${options.sourceUri}`);
  const etag = versionOf(source);
  const outputs = shardOutputsFor(options.outputs, etag);
  // One run at a time into these outputs: a second would take the first's parts for an interrupted
  // run's, remove them under its workers and fail the one or the other with an error of a missing part.
  const claim = options.outputs.running;
  const holder = `${THIS_PROCESS}, started ${started} (run ${randomUUID()})`;
  const claimed = await whileClaimed(io.output, claim, holder, RUN_LEASE_MS, async () => {
    const run: LocalRun = {};
    try {
      return await scoreAndJoin(options, outputs, source, started, run);
    } catch (error) {
      // As a run through one function ends: a failed manifest naming the problem, and no parts left
      // (once the planning pass and the join have stopped writing). A failure of the cleanup does not hide the cause.
      await run.planning?.catch(() => undefined);
      await run.joining?.catch(() => undefined);
      await abandonWrites(io, outputs).catch(() => undefined);
      await abandonOutputWrites(io, outputs).catch(() => undefined);
      await failShardedRun(io, input, outputs, error, { startedAt: started, etag, plan: run.plan, keepRanges: false }).catch(() => undefined);
      throw error;
    }
  });
  if (claimed.held) return claimed.value;
  const other = await heldBy(io.output, claim);
  throw new ConflictError(
    `another run is writing the outputs of ${input.relative} in ${options.outputUri}${other ? ` (${other.holder}; held until ${other.until} unless it renews)` : ''}: wait for it to end, or write into another --out`,
  );
}

/**
 * How long a run holds its outputs without renewing (every third of it): a run killed outright
 * (SIGKILL, the machine off) keeps a rerun out this long at most. Ctrl-C lets go at once.
 */
const RUN_LEASE_MS = 60_000;

/** How a run's claim names this process. */
const THIS_PROCESS = `modelctl batch, process ${process.pid} on ${hostname()}`;

/**
 * Lets go of the claim this process holds on `outputs` (runLocally's), for an interrupted run,
 * which ends by its signal before the claim's own release runs: the same command, run again at
 * once, resumes rather than wait for the lease.
 */
export async function letGoOfRun(store: ObjectStore, outputs: Pick<BatchOutputs, 'running'>): Promise<void> {
  await letGo(store, outputs.running, (holder) => holder.startsWith(`${THIS_PROCESS},`));
}

/** What the run's failure path needs: the plan once known, and the planning pass and the join to wait for. */
interface LocalRun {
  plan?: ShardPlan;
  planning?: Promise<unknown>;
  joining?: Promise<unknown>;
}

/** A promise settled from outside; its rejection counts as handled (a join that never reached it). */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Once no worker runs: the temporary files of writes that never finished under the parts folders (a
 * folder keeps them; S3 hides them), this run's killed workers' and an earlier, interrupted run's
 * (Ctrl-C) alike, whose part numbers this run's plan may not have, or of another version of the
 * file. Every version's folder: a local run owns its --out.
 */
async function abandonWrites(io: BatchIO, outputs: BatchOutputs): Promise<void> {
  await io.output.abandonWritesUnder?.(outputs.shardsPrefix);
}

/**
 * Once this run's join has ended: the temporary files beside the outputs, which only the join of an
 * earlier, interrupted run (Ctrl-C while it copied the parts) can have left, a copy of the parts as
 * large as the outputs. Not while the join runs: they would be its own.
 */
async function abandonOutputWrites(io: BatchIO, outputs: BatchOutputs): Promise<void> {
  for (const key of [outputs.predictions, outputs.errors, outputs.manifest]) await io.output.abandonWrites?.(key);
}

async function scoreAndJoin(options: LocalRunOptions, outputs: ShardOutputs, source: ObjectInfo, started: string, run: LocalRun): Promise<BatchManifest> {
  const { io, input } = options;
  // The version is pinned without loading the model here: the workers load it (a model that cannot
  // be loaded fails the first range, and so the run), and this process stays free of TF.js, whose
  // start would take a core from the workers starting beside it.
  const model = { name: options.ref.name, version: await options.loader.resolve(options.ref) };
  // Workers start (load TF.js and the model, about half a second each) while the file is planned.
  let failed = false;
  const planning = (async () => {
    const plan = {
      ...(await planRanges(io.source, {
        key: input.key,
        etag: versionOf(source),
        size: source.size,
        format: input.format,
        model,
        targetBytes: options.targetBytes,
        workers: options.workers,
      })),
      startedAt: started,
    };
    run.plan = plan;
    // A run that already failed (a worker could not start) leaves no plan behind.
    if (!failed) {
      await io.output.put(outputs.plan, JSON.stringify(plan), { contentType: 'application/json' });
      options.onPhase?.('planned');
    }
    return plan;
  })();
  run.planning = planning;
  /** Settled when each range is scored, or when the run fails: the join waits on them. */
  const scored = new Map<number, ReturnType<typeof deferred>>();
  await new Promise<void>((resolve, reject) => {
    let anyReady = false;
    let queue: ShardRange[] | undefined;
    let remaining: Set<number> | undefined;
    const workers = new Set<ChildProcess>();
    /** How many times each range has been started. */
    const attempts = new Map<number, number>();
    const rangeTimeoutMs = options.rangeTimeoutMs ?? DEFAULT_RANGE_TIMEOUT_MS;
    /** The workers scoring a range now. */
    const busy = new Set<ChildProcess>();
    let failure: Error | undefined;
    const stopAll = () => {
      for (const w of workers) w.kill();
    };
    /** After a failure, the run ends once every worker has: the cleanup must not race their writes. */
    const endIfStopped = () => {
      if (failure && workers.size === 0) reject(failure);
    };
    // A failure stops the idle workers now and each busy one when its range ends (a range killed
    // mid-write would leave its temporary upload behind), then the run fails.
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      failure = error;
      for (const range of scored.values()) range.reject(error);
      for (const w of workers) if (!busy.has(w)) w.kill();
      endIfStopped();
    };
    planning.then((p) => {
      queue = [...p.ranges];
      remaining = new Set(p.ranges.map((r) => r.index));
      // A run that already failed (a worker could not start) joins nothing.
      if (failed) return;
      for (const range of p.ranges) scored.set(range.index, deferred());
      // The join starts now, and copies each range's part as soon as it and those before it are
      // scored: on this machine the join copies every output byte once (a 4 million row run: 0.3 to
      // 0.45 s of 6 to 9), which would otherwise all come after the last range. A join that fails
      // stops the workers, and the run fails with its error.
      run.joining = joinRanges(io, input, outputs, p, (index) => scored.get(index)?.promise ?? Promise.resolve());
      run.joining.catch(fail);
    }, fail);
    const spawn = () => {
      const child = fork(options.workerScript, [], { execArgv: options.execArgv ?? [], env: options.env ?? process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let current: ShardRange | undefined;
      let ready = false;
      /** Kills the worker when its range has taken longer than the range timeout. */
      let deadline: NodeJS.Timeout | undefined;
      let timedOutMs: number | undefined;
      workers.add(child);
      const next = async () => {
        const p = await planning.catch(() => undefined);
        // The worker may have died while the plan was read: its replacement takes the range.
        // (Or it is being killed for running past the range timeout, its last range done meanwhile.)
        const gone = timedOutMs !== undefined || child.exitCode !== null || child.signalCode !== null || !child.connected;
        if (gone) return;
        if (!p || !queue || failed) {
          if (failed) child.kill();
          return;
        }
        current = queue.shift();
        if (!current) {
          child.kill();
          return;
        }
        busy.add(child);
        attempts.set(current.index, (attempts.get(current.index) ?? 0) + 1);
        deadline = setTimeout(() => {
          timedOutMs = rangeTimeoutMs;
          child.kill('SIGKILL');
        }, rangeTimeoutMs);
        const task: RangeTask = { sourceUri: options.sourceUri, outputUri: options.outputUri, input, outputPrefix: options.outputPrefix, plan: p, range: current };
        child.send(task);
        if (child.pid !== undefined) options.onRangeStart?.(current.index, child.pid);
      };
      child.on('message', (message: WorkerMessage) => {
        if (message.type !== 'ready') clearTimeout(deadline);
        if (message.type === 'ready') {
          ready = true;
          if (!anyReady) options.onPhase?.('first worker ready');
          anyReady = true;
          void next();
        } else if (message.type === 'done') {
          busy.delete(child);
          if (child.pid !== undefined) options.onRangeDone?.(message.index, child.pid, message);
          remaining?.delete(message.index);
          scored.get(message.index)?.resolve();
          current = undefined;
          if (remaining?.size === 0) {
            stopAll();
            resolve();
          } else void next();
        } else {
          busy.delete(child);
          const range = current;
          const tries = attempts.get(message.index) ?? 0;
          current = undefined;
          if (message.kind === 'store' && range && tries < RANGE_ATTEMPTS && !failed) {
            // The store blinked: the range goes back to the queue after a pause, and this worker,
            // whose TF.js is sound, takes it (or another range) then. Its parts are written again.
            setTimeout(() => {
              if (failed || options.signal?.aborted) return;
              queue?.unshift(range);
              // Gone meanwhile (its exit found no range to give back): a busy worker takes it when
              // its range is done, or, with none left (idle ones end), a new one.
              if (child.connected) void next();
              else if (workers.size === 0) spawn();
            }, STORE_RETRY_MS * tries).unref();
            return;
          }
          fail(failureOf(message, tries));
          child.kill();
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(deadline);
        workers.delete(child);
        busy.delete(child);
        if (failed) return endIfStopped();
        if (remaining?.size === 0 || options.signal?.aborted) return;
        // One that cannot even start would be replaced forever.
        if (!ready) return fail(new ServiceError(`a batch worker exited before it was ready (${signal ?? `code ${code}`})`));
        const tries = current ? (attempts.get(current.index) ?? 0) : 0;
        if (current && tries >= RANGE_ATTEMPTS) {
          const { index, start, end } = current;
          return fail(new RangeFailedError(`range ${index} (bytes ${start}-${end}) failed ${tries} times: its worker ${endOf(timedOutMs, code, signal)} the last time`));
        }
        // Died mid-range: the range goes back to the queue and a new worker takes the dead one's place.
        if (current) queue?.unshift(current);
        current = undefined;
        const replace = () => {
          if (!failed && !options.signal?.aborted && (!queue || queue.length > 0)) spawn();
        };
        // Ctrl-C reaches the whole process group: a worker it ended may be seen gone before this
        // process's own handler has run and aborted the run, and its replacement then started from
        // the worker bundle being removed (a stack trace per replacement). Asked again a moment later.
        if (timedOutMs === undefined && (signal === 'SIGINT' || signal === 'SIGTERM')) setTimeout(replace, INTERRUPT_GRACE_MS);
        else replace();
      });
      // A worker that could not be started (or signalled) never sends 'exit': it counts as gone.
      child.on('error', (error) => {
        workers.delete(child);
        busy.delete(child);
        fail(error);
        endIfStopped();
      });
    };
    // As many workers as the file will have ranges (the plan cuts ranges of about targetBytes), at most the number asked for.
    const ranges = Math.max(1, Math.ceil(source.size / options.targetBytes));
    for (let i = 0; i < Math.min(options.workers, ranges); i += 1) spawn();
  });
  options.onPhase?.('scored');
  // The temporary files of killed workers' writes are under the parts prefix; the join's are beside its outputs.
  await abandonWrites(io, outputs);
  const manifest = await (run.joining as Promise<BatchManifest>);
  await abandonOutputWrites(io, outputs);
  options.onPhase?.('joined');
  return manifest;
}
