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
  /** The node binary's version (this one, or Node 22 as Lambda runs). */
  node: string;
  /** NODE_COMPILE_CACHE in a folder a previous start filled (a restart within one Lambda sandbox). */
  compileCache: boolean;
  wallMs: Summary;
  /** `node bare.mjs` (print one line), spawned just before each cold start: the floor. */
  bareMs: Summary;
  /** Median of cold / bare, pair by pair. */
  ratio: number;
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

export interface ColdStartOptions {
  /** The node binary (default: this process's). */
  node?: string;
  /** A folder for NODE_COMPILE_CACHE, filled by the warm-up run (Node 22.1+; older nodes ignore it). */
  compileCacheDir?: string;
}

/**
 * Spawn -> first answer of the predict bundle, each run paired with a bare node start just before it
 * on the same binary, so that the ratio holds on a noisy machine.
 */
export async function measureColdStart(options: FreshProcessOptions, model: string, route: string, body: unknown, how: ColdStartOptions = {}): Promise<ColdStartResult> {
  const predictBundle = path.join(options.outDir, 'predict', 'index.js');
  const metadataBundle = path.join(options.outDir, 'metadata', 'index.js');
  const args = [predictBundle, metadataBundle, route, JSON.stringify(body)];
  const walls: number[] = [];
  const bares: number[] = [];
  const answers: { statusCode: number; body: unknown; importedMs: number; answeredMs: number }[] = [];
  let backend = 'unknown';
  const env = how.compileCacheDir ? { ...envFor(options), NODE_COMPILE_CACHE: how.compileCacheDir } : envFor(options);
  for (let i = 0; i < options.runs + 1; i++) {
    const bare = await runChild(path.join(childDir, 'bare.mjs'), [], { env, cwd: options.outDir, node: how.node });
    const run = await runChild(path.join(childDir, 'coldStart.mjs'), args, { env, cwd: options.outDir, node: how.node });
    const answer = run.reports[0] as (typeof answers)[number];
    if (answer.statusCode !== 200) throw new Error(`cold start predict answered ${answer.statusCode}: ${JSON.stringify(answer.body)}`);
    backend = String(run.reports[1]?.backend ?? backend);
    if (i === 0) continue; // warms the OS file cache (and fills the compile cache, if any)
    walls.push(run.wallMs);
    bares.push(bare.wallMs);
    answers.push(answer);
  }
  const rounded = (s: Summary) => ({ ...s, p50: round(s.p50, 1), p99: round(s.p99, 1), min: round(s.min, 1), max: round(s.max, 1), mean: round(s.mean, 1) });
  const version = (await runChild(path.join(childDir, 'version.mjs'), [], { env, cwd: options.outDir, node: how.node })).reports[0] as { version: string };
  return {
    model,
    runs: walls.length,
    backend,
    node: version.version,
    compileCache: how.compileCacheDir !== undefined,
    wallMs: rounded(summarize(walls)),
    bareMs: rounded(summarize(bares)),
    ratio: round(median(walls.map((w, i) => w / bares[i])), 2),
    childImportedMs: round(median(answers.map((a) => a.importedMs)), 1),
    childAnsweredMs: round(median(answers.map((a) => a.answeredMs)), 1),
    answer: answers[0].body,
  };
}
