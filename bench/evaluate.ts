/**
 * Evaluate throughput and memory (part of `npm run bench`, or alone: `npx tsx bench/evaluate.ts [--quick]`).
 *
 * 1. Rows per second of runEvaluation (lib/ops/evaluate/service.ts) on a 100k-row CSV of iris and of
 *    housing in a folder store, at MAX_BATCH 256 (the config default) and 4096, against raw
 *    model.predict on the same rows: the standardised rows pre-built as one float32 tensor per
 *    chunk of the same size, tidy(predict) + await data() per chunk. ratio = evaluate rows/s ÷ raw rows/s.
 *    Each stage of the service is also timed alone (rounds of their own) over the same 100k rows, from the previous
 *    stage's output computed once up front, so a reader sees where the time goes:
 *      csv -> tensors  the columnar reader (lib/ops/evaluate/columnar.ts): papaparse, cells into
 *                      float32 rows and label indices, no object per row
 *      predict     runModel per chunk (tf.tensor, predict, data())
 *      metrics     output rows + accumulator add per chunk, then report()
 *    Rounds rotate the order of the tasks (bench/stats.ts compare), medians are reported.
 * 2. Peak RSS (process.resourceUsage().maxRSS) of a whole evaluation in a fresh process
 *    (bench/children/evaluateRss.ts, under tsx) at 100k and at 1M rows: the ratio 1M/100k shows
 *    whether memory stays bounded as the data set grows.
 *
 * Data sets are generated each run (bench/evaluateData.ts): rows resampled from the real iris and
 * Boston house prices data, so values, classes and ties look like the real thing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { ModelLoader, type LoadedModel } from '../lib/loader/index.js';
import { csvColumnChunks } from '../lib/ops/evaluate/columnar.js';
import { readDataset, type DatasetRow } from '../lib/ops/evaluate/dataset.js';
import { accumulatorFor, addOutputs } from '../lib/ops/evaluate/evaluate.js';
import { exampleFromRow, type Example } from '../lib/ops/evaluate/examples.js';
import { evaluateRequest } from '../lib/ops/evaluate/request.js';
import { runEvaluation } from '../lib/ops/evaluate/service.js';
import { runModel } from '../lib/ops/runModel.js';
import { encodeInstances, inputFromValues, inputTensors } from '../lib/inputs/encode.js';
import { FolderStore } from '../lib/store/folder.js';
import type { TensorData } from '../lib/tensors/data.js';
import { EVALUATE_MODELS, writeDataset, type EvaluateModel } from './evaluateData.js';
import { runReportingChild } from './reportingChild.js';
import { compare, median, round, type Task } from './stats.js';
import type { Target } from './targets.js';
import { localLimits } from '../lib/runtime/memory.js';

export { EVALUATE_MODELS } from './evaluateData.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');

export const THROUGHPUT_ROWS = 100_000;
export const RSS_ROWS = [100_000, 1_000_000];
export const EVALUATE_BATCHES = [256, 4096];
const LABEL_COLUMN: Record<EvaluateModel, string> = { iris: 'species', housing: 'medv' };
const STAGES = ['csv -> tensors', 'predict', 'metrics'] as const;

export interface EvaluateThroughputRow {
  model: string;
  batch: number;
  rows: number;
  runs: number;
  /** Medians, ms for all the rows. */
  evaluateMs: number;
  rawMs: number;
  evaluateRowsPerSecond: number;
  rawRowsPerSecond: number;
  /** evaluate rows/s ÷ raw rows/s (target >= 0.8). */
  ratio: number;
  /** Each stage alone over all the rows (median ms), and `rest` = evaluate - their sum. */
  stages: Record<string, number>;
  metrics: Record<string, number>;
  /** Tensors left behind by the measured rounds (should be 0). */
  leakedTensors: number;
}

export interface EvaluateRssRow {
  model: string;
  batch: number;
  rows: number;
  /** Fresh processes measured; the figures below are their medians. */
  runs: number;
  /** maxRSS (MiB) after the backend and model are loaded, before the evaluation. */
  baselineMiB: number;
  /** maxRSS (MiB) at the end of the evaluation: the peak of the whole process. */
  peakMiB: number;
  /** Every run's peak, in order. */
  peaksMiB: number[];
  seconds: number;
  rowsPerSecond: number;
  backend: string;
}

export interface EvaluateResult {
  backend: string;
  throughput: EvaluateThroughputRow[];
  rss: EvaluateRssRow[];
  /** peak RSS at 1M rows ÷ at 100k rows, per model (target < 1.2). */
  rssRatio: Record<string, number>;
  notes: string[];
}

export interface EvaluateBenchOptions {
  quick: boolean;
  models?: readonly EvaluateModel[];
  /** Models whose peak RSS is measured at 100k and 1M rows (fresh processes, ~30-50 s each at 1M). Default: iris (quick), else both. */
  rssModels?: readonly EvaluateModel[];
  /** Fresh processes per model and size; medians are reported. Default: 1, and 2 for iris unless quick (its per-row ROC state makes it the model at risk). */
  rssRuns?: number;
  log?: (message: string) => void;
}

const MiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/** The median, averaging the two middle values of an even count (stats.median takes the lower one). */
function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function chunksOf<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The service's steps (lib/ops/evaluate/service.ts, evaluate.ts), each as a task over all the rows. */
async function stageTasks(loaded: LoadedModel, data: FolderStore, key: string, batch: number): Promise<Record<(typeof STAGES)[number], Task>> {
  const { manifest } = loaded;
  const labelColumn = LABEL_COLUMN[manifest.name as EvaluateModel];
  const rows: DatasetRow[] = await collect(readDataset(data, key, 'csv'));
  const columns = () => Object.keys(rows[0].values);
  const examples: Example[] = rows.map((r) => exampleFromRow(manifest, r, labelColumn, columns));
  const chunks = chunksOf(examples, batch);
  const encode = (chunk: Example[]) =>
    inputTensors(
      manifest,
      inputFromValues(
        manifest,
        chunk.map((e) => e.instance),
      ),
      localLimits(batch).budget,
    );
  const tensors = await Promise.all(chunks.map(encode));
  const outputs: TensorData[] = [];
  for (const t of tensors) outputs.push((await runModel(loaded, t, localLimits(batch)))[0]);
  const truths = chunks.map((c) => c.map((e) => e.truth));
  return {
    // The columnar path (lib/ops/evaluate/columnar.ts): papaparse, cells straight into float32 rows and labels.
    'csv -> tensors': async () => {
      const stream = await data.getStream(key);
      let n = 0;
      try {
        for await (const chunk of csvColumnChunks(stream, manifest, labelColumn, batch)) n += chunk.truths.length;
      } finally {
        stream.destroy();
      }
      if (n !== rows.length) throw new Error(`read ${n} rows, expected ${rows.length}`);
    },
    predict: async () => {
      for (const t of tensors) await runModel(loaded, t, localLimits(batch));
    },
    // As evaluateModel does it: each chunk's output into the accumulator, report() at the end.
    metrics: async () => {
      const accumulator = accumulatorFor(manifest, { limits: localLimits(batch) });
      outputs.forEach((o, i) => addOutputs(manifest, accumulator, truths[i], o));
      return accumulator.acc.report();
    },
  };
}

/** The same rows as evaluate sees them, standardised, one float32 tensor per chunk: the raw baseline's input. */
async function rawChunks(loaded: LoadedModel, data: FolderStore, key: string, batch: number): Promise<tf.Tensor[]> {
  const { manifest } = loaded;
  const labelColumn = LABEL_COLUMN[manifest.name as EvaluateModel];
  const rows = await collect(readDataset(data, key, 'csv'));
  const instances = rows.map((r) => exampleFromRow(manifest, r, labelColumn, () => []).instance);
  const all = await encodeInstances(manifest, instances, localLimits().budget);
  const width = all.shape[1];
  const flat = all.data as Float32Array;
  const out: tf.Tensor[] = [];
  for (let from = 0; from < rows.length; from += batch) {
    const to = Math.min(rows.length, from + batch);
    out.push(tf.tensor2d(flat.slice(from * width, to * width), [to - from, width], 'float32'));
  }
  return out;
}

function rawTask(loaded: LoadedModel, chunks: tf.Tensor[]): Task {
  const model = loaded.model as { predict(x: tf.Tensor): tf.Tensor };
  return async () => {
    for (const x of chunks) {
      const y = tf.tidy(() => model.predict(x));
      try {
        await y.data();
      } finally {
        y.dispose();
      }
    }
  };
}

async function measureThroughput(loader: ModelLoader, data: FolderStore, model: EvaluateModel, key: string, batch: number, quick: boolean): Promise<EvaluateThroughputRow> {
  return loader.withModel({ name: model, version: 1 }, async (loaded) => {
    const request = evaluateRequest.parse({ dataset: key, labelColumn: LABEL_COLUMN[model] });
    let metrics: Record<string, number> = {};
    const rounds = { warmup: 1, iterations: quick ? 1 : 3 };
    const chunks = await rawChunks(loaded, data, key, batch);
    try {
      // evaluate against raw first, with nothing else held in memory (the stages keep all the rows
      // as objects, which would slow evaluate's garbage collection).
      const tensorsBefore = tf.memory().numTensors;
      const samples = await compare(
        {
          evaluate: async () => {
            const evaluation = await runEvaluation(data, loaded, request, localLimits(batch), undefined, data);
            if (evaluation.count !== THROUGHPUT_ROWS) throw new Error(`evaluated ${evaluation.count} rows, expected ${THROUGHPUT_ROWS}`);
            metrics = evaluation.metrics;
          },
          raw: rawTask(loaded, chunks),
        },
        rounds,
      );
      const leakedTensors = tf.memory().numTensors - tensorsBefore;
      const stageSamples = await compare(await stageTasks(loaded, data, key, batch), rounds);
      const evaluateMs = median(samples.evaluate);
      const rawMs = median(samples.raw);
      const stageMs = Object.fromEntries(STAGES.map((s) => [s, median(stageSamples[s])]));
      const rest = evaluateMs - Object.values(stageMs).reduce((a, b) => a + b, 0);
      return {
        model,
        batch,
        rows: THROUGHPUT_ROWS,
        runs: samples.evaluate.length,
        evaluateMs: round(evaluateMs, 1),
        rawMs: round(rawMs, 1),
        evaluateRowsPerSecond: Math.round((THROUGHPUT_ROWS / evaluateMs) * 1000),
        rawRowsPerSecond: Math.round((THROUGHPUT_ROWS / rawMs) * 1000),
        ratio: round(rawMs / evaluateMs, 3),
        stages: Object.fromEntries([...Object.entries(stageMs), ['rest', rest]].map(([k, v]) => [k, round(v as number, 1)])),
        metrics,
        leakedTensors,
      };
    } finally {
      tf.dispose(chunks);
    }
  });
}

const runRssChild = (args: string[], timeoutMs: number) => runReportingChild('evaluateRss.ts', args, timeoutMs);

export async function measureEvaluate(options: EvaluateBenchOptions): Promise<EvaluateResult> {
  const log = options.log ?? ((m: string) => console.error(`[bench] ${m}`));
  const models = options.models ?? EVALUATE_MODELS;
  const rssModels = options.rssModels ?? (options.quick ? EVALUATE_MODELS.filter((m) => m === 'iris') : EVALUATE_MODELS);
  const rssRunsOf = (model: EvaluateModel) => options.rssRuns ?? (!options.quick && model === 'iris' ? 2 : 1);
  const notes: string[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tfjs-bench-evaluate-'));
  try {
    const data = new FolderStore(dir);
    const keyOf = (model: string, rows: number) => `${model}-${rows}.csv`;
    for (const model of new Set([...models, ...rssModels])) {
      const sizes = new Set([...(models.includes(model) ? [THROUGHPUT_ROWS] : []), ...(rssModels.includes(model) ? RSS_ROWS : [])]);
      for (const rows of sizes) await writeDataset(model, rows, path.join(dir, keyOf(model, rows)));
    }
    log(`evaluate data sets written to ${dir}`);

    const { initBackend } = await import('../lib/runtime/backend.js');
    const backend = await initBackend();
    const loader = new ModelLoader(new FolderStore(path.join(repoRoot, 'models')), { aliasTtlMs: 1000, maxBytes: 1e9 });
    const throughput: EvaluateThroughputRow[] = [];
    for (const model of models) {
      for (const batch of EVALUATE_BATCHES) {
        log(`evaluate throughput ${model}, ${THROUGHPUT_ROWS} rows, batch ${batch}`);
        const row = await measureThroughput(loader, data, model, keyOf(model, THROUGHPUT_ROWS), batch, options.quick);
        if (row.leakedTensors !== 0) notes.push(`evaluate ${model} batch ${batch}: ${row.leakedTensors} tensors leaked`);
        throughput.push(row);
      }
    }
    loader.clear();

    const rss: EvaluateRssRow[] = [];
    const batch = EVALUATE_BATCHES[0];
    for (const model of rssModels) {
      // Sizes alternate (100k, 1M, 100k, 1M, ...) so that drift on the machine falls on both alike.
      const reports = new Map<number, Record<string, unknown>[]>(RSS_ROWS.map((rows) => [rows, []]));
      const rssRuns = rssRunsOf(model);
      for (let run = 0; run < rssRuns; run++) {
        for (const rows of RSS_ROWS) {
          log(`evaluate peak RSS ${model}, ${rows} rows, batch ${batch}, fresh process ${run + 1}/${rssRuns}`);
          const r = await runRssChild([path.join(repoRoot, 'models'), dir, model, keyOf(model, rows), LABEL_COLUMN[model], String(batch)], 600_000);
          if (r.rows !== rows) throw new Error(`evaluateRss ${model}: evaluated ${String(r.rows)} rows, expected ${rows}`);
          reports.get(rows)!.push(r);
        }
      }
      for (const [rows, runs] of reports) {
        const at = (key: string) => middle(runs.map((r) => r[key] as number));
        const ms = at('ms');
        rss.push({
          model,
          batch,
          rows,
          runs: runs.length,
          baselineMiB: MiB(at('warmMaxRssKb')),
          peakMiB: MiB(at('maxRssKb')),
          peaksMiB: runs.map((r) => MiB(r.maxRssKb as number)),
          seconds: round(ms / 1000, 1),
          rowsPerSecond: Math.round((rows / ms) * 1000),
          backend: String(runs[0].backend),
        });
      }
    }
    const rssRatio = Object.fromEntries(
      rssModels.map((m) => {
        const at = (rows: number) => rss.find((r) => r.model === m && r.rows === rows)!.peakMiB;
        return [m, round(at(RSS_ROWS[1]) / at(RSS_ROWS[0]), 3)];
      }),
    );
    return { backend, throughput, rss, rssRatio, notes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** evaluate/raw >= 0.8 at the default batch per model, peak RSS 1M/100k < 1.2 per model. */
export function evaluateTargets(result: EvaluateResult | undefined, models: readonly string[] = EVALUATE_MODELS): Target[] {
  const batch = EVALUATE_BATCHES[0];
  const ratios = models.map((m): Target => {
    const name = `evaluate/raw ${m} (rows/s, ${THROUGHPUT_ROWS / 1000}k rows, batch ${batch})`;
    const row = result?.throughput.find((r) => r.model === m && r.batch === batch);
    if (!row) return { name, target: '>= 0.8 x', value: null, met: null, note: 'not measured' };
    return { name, target: '>= 0.8 x', value: row.ratio, met: row.ratio >= 0.8, note: `${row.evaluateRowsPerSecond} vs raw ${row.rawRowsPerSecond} rows/s` };
  });
  const rss = models.map((m): Target => {
    const name = `evaluate peak RSS ${m} 1M/100k rows`;
    const value = result?.rssRatio[m];
    if (value === undefined) return { name, target: '< 1.2 x', value: null, met: null, note: 'not measured' };
    const peaks = result!.rss.filter((r) => r.model === m).map((r) => `${r.peakMiB} MiB`);
    return { name, target: '< 1.2 x', value, met: value < 1.2, note: peaks.join(' vs ') };
  });
  return [...ratios, ...rss];
}

/** The console tables of this section. */
export async function formatEvaluate(result: EvaluateResult): Promise<string> {
  const { formatTable } = await import('./table.js');
  const stageNames = [...STAGES, 'rest'];
  return [
    formatTable(
      ['evaluate', 'batch', 'rows', 'evaluate ms', 'raw ms', 'evaluate rows/s', 'raw rows/s', 'ratio'],
      result.throughput.map((r) => [r.model, r.batch, r.rows, r.evaluateMs, r.rawMs, r.evaluateRowsPerSecond, r.rawRowsPerSecond, r.ratio]),
    ),
    `(runEvaluation on a ${THROUGHPUT_ROWS.toLocaleString('en-US')}-row CSV in a folder store vs raw = the same rows as pre-built standardised tensors, tidy(predict) + data() per chunk of the same batch; medians; ratio = evaluate rows/s ÷ raw rows/s; backend ${result.backend})\n`,
    formatTable(
      ['evaluate', 'batch', 'evaluate ms', ...stageNames],
      result.throughput.map((r) => [r.model, r.batch, r.evaluateMs, ...stageNames.map((s) => r.stages[s])]),
    ),
    '(ms for all the rows, each stage alone, medians. csv -> tensors = the columnar reader (papaparse, cells into float32 rows and labels, no object per row); predict = runModel per chunk; metrics = output rows + accumulator + report(); rest = evaluate - sum.)\n',
    formatTable(
      ['evaluate (fresh process)', 'batch', 'rows', 'runs', 'baseline MiB', 'peak RSS MiB', 'peaks', 's', 'rows/s'],
      result.rss.map((r) => [r.model, r.batch, r.rows, r.runs, r.baselineMiB, r.peakMiB, r.peaksMiB.join(' '), r.seconds, r.rowsPerSecond]),
    ),
    `(maxRSS of node --import tsx bench/children/evaluateRss.ts, medians of the runs: baseline = backend + model loaded; peak = end of the evaluation. Peak 1M/100k: ${Object.entries(
      result.rssRatio,
    )
      .map(([m, r]) => `${m} ${r}`)
      .join(', ')})\n`,
  ].join('\n');
}

// Alone: npx tsx bench/evaluate.ts [--quick] [--models iris,housing] [--rss-models iris]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, models: { type: 'string' }, 'rss-models': { type: 'string' } } });
  const list = (text: string | undefined) =>
    text === undefined
      ? undefined
      : (text
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean) as EvaluateModel[]);
  const result = await measureEvaluate({ quick: values.quick, models: list(values.models), rssModels: list(values['rss-models']) });
  console.log(await formatEvaluate(result));
  for (const note of result.notes) console.log(`note: ${note}`);
  process.exit(0);
}
