/**
 * Section 12, sharded batch scoring on this machine (`modelctl batch`, lib/batch/shard/local.ts):
 * rows/s of a 4,000,000-row iris CSV (about 93 MiB; the issue asks for at least a million: with
 * the columnar path a million rows take a few seconds, and the fixed cost of starting the workers
 * would weigh more than scoring) with 1 and with 2 worker processes (speedup target 1.7 on 2
 * cores), each worker's peak RSS (its high-water mark) after its middle range and after its last
 * (flat: ranges stream; RSS sampled right after a range rises and falls with the collections, so
 * it is reported beside it, not held to the target), how
 * many cores one worker keeps busy (its CPU time over its wall time while scoring ranges: V8's
 * garbage collector and the file system work on other threads, which caps what a second worker
 * can add on two cores), the worker CPU time the same rows take with 2 workers over 1 (above 1
 * when two busy cores slow each other: shared caches and memory bandwidth), and the planner's scan
 * rate. From these, the README's projection of wall time for a 10 GB file
 * at 10, 100 and 1,000 concurrent functions.
 *
 * The runs alternate (1 worker, 2 workers, three rounds; one in --quick) and the speedup is the
 * fastest run of each over the other: on these shared cores one worker spent from 16 to 24 s of
 * CPU on the same 4 million rows from one run to the next, so one run of each can put a slow
 * minute on either side. Every run is reported, and the ratio within each round beside it.
 *
 * Each round ends with a reference that has no plan in it: two whole one-worker runs of the file
 * at once, each into its own folder. Twice the rows in the time the slower of them took, over one
 * run's rate, is what two processes doing this work get from this machine at that moment (its
 * cores, caches and memory bandwidth, and whatever else it runs): the sharded run's ceiling, so
 * the two speedups side by side tell the plan's own cost from the machine's.
 *
 *   npx tsx bench/batchShard.ts [--quick]
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { batch } from '../cli/commands/batch.js';
import { planRanges } from '../lib/batch/shard/plan.js';
import { servicesFor } from '../lib/services.js';
import { FolderStore } from '../lib/store/folder.js';
import { writeDataset } from './evaluateData.js';
import { round } from './stats.js';
import { atMost, type Target } from './targets.js';

export interface ShardBenchResult {
  rows: number;
  fileBytes: number;
  rangeBytes: number;
  runs: {
    round: number;
    workers: number;
    seconds: number;
    rowsPerSecond: number;
    ranges: number;
    workerRssMiB: { first: number; last: number }[];
    /** Each worker's RSS high-water mark after its middle range and after its last: flat when ranges stream. */
    workerPeakRssMiB: { middle: number; last: number }[];
    /** Each worker's CPU time over its wall time, summed over its ranges. */
    workerCores: number[];
    /** CPU seconds all workers spent scoring (the same rows in every run). */
    workerCpuSeconds: number;
    phases: Record<string, number>;
  }[];
  /** The fastest run with 2 workers over the fastest with 1. */
  speedup: number;
  /** 1-worker over 2-worker time within each round. */
  roundSpeedups: number[];
  /**
   * Per round, two independent one-worker runs of the file at once: each one's seconds, and twice
   * the rows over the slower one's time, against the round's one-worker run (the machine's ceiling
   * for two processes doing this work then).
   */
  independentPairs: { seconds: number[]; speedup: number }[];
  /**
   * CPU seconds the workers spent on the same rows with 2 workers over 1 (fastest runs): above 1
   * when two workers on two cores each do the same work slower (shared caches, memory bandwidth).
   */
  cpuPerRowTwoOverOne: number;
  /** The same, counting only the scoring phase (first worker ready -> all ranges scored). */
  scoringSpeedup: number;
  /**
   * The planner's pass over the file (ranged reads of 8 MiB, quote-aware boundary scan), fastest of
   * three once the file is in the page cache: the planner's own cost, which the projection uses.
   */
  planMBPerSecond: number;
  /** The same pass right after the file was written: this VM's disk writing it back weighs on it. */
  planFirstPassMBPerSecond: number;
  /** One worker's bytes/s while scoring: what each function of the state machine does. */
  perWorkerMBPerSecond: number;
  projection: { concurrency: number; minutes: number }[];
  targets: Target[];
}

const MiB = 2 ** 20;

export async function measureShardedBatch(options: { quick?: boolean } = {}): Promise<ShardBenchResult> {
  const rows = options.quick ? 200_000 : 4_000_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-shard-'));
  try {
    const file = path.join(dir, 'flowers.csv');
    await writeDataset('iris', rows, file);
    const fileBytes = (await stat(file)).size;
    const rangeBytes = Math.max(MiB, Math.floor(fileBytes / 16));
    const services = servicesFor({ MODEL_STORE_URI: `file://${path.resolve('models')}`, POWERTOOLS_LOG_LEVEL: 'SILENT' });
    const planned = new FolderStore(dir);
    const source = await planned.head('flowers.csv');
    const planPass = async () => {
      const started = performance.now();
      await planRanges(planned, { key: 'flowers.csv', etag: source?.etag ?? '', size: fileBytes, format: 'csv', model: { name: 'iris', version: 1 }, targetBytes: rangeBytes });
      return round(fileBytes / MiB / ((performance.now() - started) / 1000), 1);
    };
    const planFirstPassMBPerSecond = await planPass();
    const runs: ShardBenchResult['runs'] = [];
    const independentPairs: ShardBenchResult['independentPairs'] = [];
    const rounds = options.quick ? 1 : 3;
    /** One whole one-worker run into a folder of its own, timed on its own. */
    const oneWorkerRun = async () => {
      const out = await mkdtemp(path.join(dir, 'out-pair-'));
      const started = performance.now();
      const manifest = await batch(services, file, { model: 'iris', workers: '1', out, rangeBytes: String(rangeBytes) });
      if (manifest.rows.read !== rows) throw new Error(`scored ${manifest.rows.read} rows of ${rows}`);
      return (performance.now() - started) / 1000;
    };
    const schedule = Array.from({ length: rounds }, (_, r) => [1, 2].map((workers) => ({ roundIndex: r, workers }))).flat();
    for (const { roundIndex, workers } of schedule) {
      const rss = new Map<number, number[]>();
      const peaks = new Map<number, number[]>();
      const usage = new Map<number, { cpuMs: number; wallMs: number }>();
      const out = await mkdtemp(path.join(dir, `out-${workers}-`));
      const started = performance.now();
      const phases: Record<string, number> = {};
      const manifest = await batch(services, file, {
        onPhase: (phase) => {
          phases[phase] = round((performance.now() - started) / 1000, 2);
        },
        model: 'iris',
        workers: String(workers),
        out,
        rangeBytes: String(rangeBytes),
        onRangeDone: (_index, pid, used) => {
          rss.set(pid, [...(rss.get(pid) ?? []), used.rssBytes ?? 0]);
          peaks.set(pid, [...(peaks.get(pid) ?? []), used.peakRssBytes ?? 0]);
          const sum = usage.get(pid) ?? { cpuMs: 0, wallMs: 0 };
          usage.set(pid, { cpuMs: sum.cpuMs + (used.cpuMs ?? 0), wallMs: sum.wallMs + (used.wallMs ?? 0) });
        },
      });
      const seconds = (performance.now() - started) / 1000;
      if (manifest.rows.read !== rows) throw new Error(`scored ${manifest.rows.read} rows of ${rows}`);
      runs.push({
        round: roundIndex,
        workers,
        seconds: round(seconds, 2),
        rowsPerSecond: Math.round(rows / seconds),
        ranges: manifest.invocations,
        workerRssMiB: [...rss.values()].map((samples) => ({ first: round(samples[0] / MiB, 1), last: round(samples[samples.length - 1] / MiB, 1) })),
        workerPeakRssMiB: [...peaks.values()].map((samples) => ({
          middle: round(samples[Math.floor((samples.length - 1) / 2)] / MiB, 1),
          last: round(samples[samples.length - 1] / MiB, 1),
        })),
        workerCores: [...usage.values()].map((u) => round(u.cpuMs / u.wallMs, 2)),
        workerCpuSeconds: round([...usage.values()].reduce((sum, u) => sum + u.cpuMs, 0) / 1000, 2),
        phases,
      });
      if (workers === 2) {
        // Two whole runs at once, each into its own folder (a run holds its --out: lib/batch/shard/local.ts).
        const pair = await Promise.all([oneWorkerRun(), new Promise((resolve) => setTimeout(resolve, 20)).then(oneWorkerRun)]);
        const alone = runs.find((run) => run.round === roundIndex && run.workers === 1)?.seconds ?? Number.NaN;
        independentPairs.push({ seconds: pair.map((t) => round(t, 2)), speedup: round((2 * alone) / Math.max(...pair), 2) });
      }
    }
    const fastest = (workers: number) => runs.filter((r) => r.workers === workers).reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const [one, two] = [fastest(1), fastest(2)];
    const speedup = round(one.seconds / two.seconds, 2);
    const roundSpeedups = Array.from({ length: rounds }, (_, r) => {
      const pair = runs.filter((run) => run.round === r);
      return round(pair[0].seconds / pair[1].seconds, 2);
    });
    const planMBPerSecond = Math.max(await planPass(), await planPass(), await planPass());
    const scoring = (run: (typeof runs)[number]) => run.phases.scored - run.phases['first worker ready'];
    const scoringSpeedup = round(scoring(one) / scoring(two), 2);
    const cpuPerRowTwoOverOne = round(two.workerCpuSeconds / one.workerCpuSeconds, 2);
    const perWorkerMBPerSecond = round(fileBytes / MiB / one.seconds, 1);
    // 10 GB at C functions: one planning pass, then the 64 MiB ranges (BATCH_RANGE_BYTES' default) in
    // waves of C, each range at one worker's rate; the join copies server-side (seconds, left out).
    const tenGB = 10 * 1024;
    const ranges = Math.ceil(tenGB / 64);
    const rangeSeconds = 64 / perWorkerMBPerSecond;
    const projection = [10, 100, 1000].map((concurrency) => ({ concurrency, minutes: round((tenGB / planMBPerSecond + Math.ceil(ranges / concurrency) * rangeSeconds) / 60, 1) }));
    const worstGrowth = Math.max(...runs.flatMap((r) => r.workerRssMiB.map((w) => w.last / w.first)));
    const worstPeakGrowth = Math.max(...runs.flatMap((r) => r.workerPeakRssMiB.map((w) => w.last / w.middle)));
    return {
      rows,
      fileBytes,
      rangeBytes,
      runs,
      speedup,
      roundSpeedups,
      independentPairs,
      cpuPerRowTwoOverOne,
      scoringSpeedup,
      planMBPerSecond,
      planFirstPassMBPerSecond,
      perWorkerMBPerSecond,
      projection,
      targets: [
        {
          name: `sharded batch, 2 local workers over 1 (${rows} rows, fastest of ${rounds} each)`,
          target: '>= 1.7 x',
          value: speedup,
          met: speedup >= 1.7,
          note: `within each round: ${roundSpeedups.join(', ')}, where two independent one-worker runs at once got ${independentPairs.map((p) => p.speedup).join(', ')}; scoring phase alone ${scoringSpeedup}x; the same rows took ${cpuPerRowTwoOverOne}x the worker CPU time with 2 workers, so two on 2 cores reach at most ${round(2 / Math.max(1, cpuPerRowTwoOverOne), 2)}x`,
        },
        atMost(
          'sharded batch worker peak RSS (high-water mark) after its last range / after its middle one',
          1.1,
          'x',
          round(worstPeakGrowth, 2),
          `RSS right after a range, last / first: up to ${round(worstGrowth, 2)}x (it rises and falls with the collections)`,
        ),
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatShardedBatch(r: ShardBenchResult): string {
  return [
    `sharded batch (modelctl batch), ${r.rows} iris rows, ${round(r.fileBytes / MiB, 1)} MiB, ranges of ${round(r.rangeBytes / MiB, 1)} MiB; planner pass ${r.planMBPerSecond} MiB/s (first pass, right after the file was written: ${r.planFirstPassMBPerSecond} MiB/s)`,
    ...r.runs.map(
      (run) =>
        `  round ${run.round + 1}, ${run.workers} worker(s): ${run.seconds} s, ${run.rowsPerSecond} rows/s, ${run.ranges} ranges (s since start: ${Object.entries(run.phases)
          .map(([p, t]) => `${p} ${t}`)
          .join(
            ', ',
          )}); worker RSS MiB after first range -> after last: ${run.workerRssMiB.map((w) => `${w.first} -> ${w.last}`).join(', ')}, peak after the middle range -> after the last: ${run.workerPeakRssMiB.map((w) => `${w.middle} -> ${w.last}`).join(', ')}; cores busy per worker: ${run.workerCores.join(', ')}; worker CPU ${run.workerCpuSeconds} s`,
    ),
    `  two independent one-worker runs at once, per round: ${r.independentPairs.map((p) => `${p.seconds.join(' s and ')} s, ${p.speedup}x the rows/s of one`).join('; ')} (the machine's ceiling for two processes then)`,
    `  speedup 2/1, fastest of each: ${r.speedup}x (within each round: ${r.roundSpeedups.join(', ')}; scoring phase alone: ${r.scoringSpeedup}x; worker CPU time for the same rows, 2 workers over 1: ${r.cpuPerRowTwoOverOne}x); one worker scores ${r.perWorkerMBPerSecond} MiB/s`,
    `  projection for 10 GB (one planning pass, then 160 ranges of 64 MiB in waves of C functions): ${r.projection.map((p) => `C=${p.concurrency}: ${p.minutes} min`).join(', ')}`,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureShardedBatch({ quick: process.argv.includes('--quick') });
  console.log(formatShardedBatch(result));
  process.exit(0);
}
