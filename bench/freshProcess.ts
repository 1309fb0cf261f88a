/**
 * Measurements that need a fresh Node process each time: model load from process start, and the
 * predict bundle's cold start (spawn -> answer). Children are plain `node` on the BUILT bundles
 * (no tsx), with the function's default logging on, as in Lambda.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { childEnv, runChild } from './spawnTimer.js';
import { median, round, summarize, type Summary } from './stats.js';

const childDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'children');

export interface FreshProcessOptions {
  /** Folder the bundles were built into: <outDir>/<handler>/index.js. */
  outDir: string;
  modelStoreUri: string;
  runs: number;
}

export interface ModelLoadResult {
  model: string;
  runs: number;
  backend: string;
  /** Medians, ms since process start. */
  importedMs: number;
  backendReadyMs: number;
  modelReadyMs: number;
  /** modelReadyMs - backendReadyMs: fetch, sha256 check and model build alone. */
  loadOnlyMs: number;
  samples: number[];
}

export interface ColdStartResult {
  model: string;
  runs: number;
  backend: string;
  wallMs: Summary;
  /** Medians of the child's own clock (ms since its process start). */
  childImportedMs: number;
  childAnsweredMs: number;
  answer: unknown;
}

function envFor(options: FreshProcessOptions): NodeJS.ProcessEnv {
  // The in-process part of the bench silences Powertools; a cold start is measured as it ships.
  return childEnv({ MODEL_STORE_URI: options.modelStoreUri }, ['POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_DISABLED']);
}

export async function measureModelLoad(options: FreshProcessOptions, model: string): Promise<ModelLoadResult> {
  const bundle = path.join(options.outDir, 'metadata', 'index.js');
  const reports: { importedMs: number; backendMs: number; readyMs: number; backend: string }[] = [];
  for (let i = 0; i < options.runs + 1; i++) {
    const run = await runChild(path.join(childDir, 'loadModel.mjs'), [bundle, model], { env: envFor(options), cwd: options.outDir });
    if (i > 0) reports.push(run.reports[0] as (typeof reports)[number]); // the first run warms the OS file cache
  }
  const at = (key: 'importedMs' | 'backendMs' | 'readyMs') => round(median(reports.map((r) => r[key])), 1);
  return {
    model,
    runs: reports.length,
    backend: reports[0].backend,
    importedMs: at('importedMs'),
    backendReadyMs: at('backendMs'),
    modelReadyMs: at('readyMs'),
    loadOnlyMs: round(median(reports.map((r) => r.readyMs - r.backendMs)), 1),
    samples: reports.map((r) => round(r.readyMs, 1)),
  };
}

export async function measureColdStart(options: FreshProcessOptions, model: string, route: string, body: unknown): Promise<ColdStartResult> {
  const predictBundle = path.join(options.outDir, 'predict', 'index.js');
  const metadataBundle = path.join(options.outDir, 'metadata', 'index.js');
  const args = [predictBundle, metadataBundle, route, JSON.stringify(body)];
  const walls: number[] = [];
  const answers: { statusCode: number; body: unknown; importedMs: number; answeredMs: number }[] = [];
  let backend = 'unknown';
  for (let i = 0; i < options.runs + 1; i++) {
    const run = await runChild(path.join(childDir, 'coldStart.mjs'), args, { env: envFor(options), cwd: options.outDir });
    const answer = run.reports[0] as (typeof answers)[number];
    if (answer.statusCode !== 200) throw new Error(`cold start predict answered ${answer.statusCode}: ${JSON.stringify(answer.body)}`);
    backend = String(run.reports[1]?.backend ?? backend);
    if (i === 0) continue; // warms the OS file cache
    walls.push(run.wallMs);
    answers.push(answer);
  }
  const wall = summarize(walls);
  return {
    model,
    runs: walls.length,
    backend,
    wallMs: { ...wall, p50: round(wall.p50, 1), p99: round(wall.p99, 1), min: round(wall.min, 1), max: round(wall.max, 1), mean: round(wall.mean, 1) },
    childImportedMs: round(median(answers.map((a) => a.importedMs)), 1),
    childAnsweredMs: round(median(answers.map((a) => a.answeredMs)), 1),
    answer: answers[0].body,
  };
}
