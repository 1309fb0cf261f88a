/**
 * Section 11, the soak: 10,000 mixed requests (valid, invalid, random bodies, every demo model,
 * every route kind) through the handlers of every HTTP function, bundled as the Lambdas are
 * (bench/soakHandlers/all.ts), in one fresh process (bench/children/soak.mjs), over a copy of
 * models/ (saved evaluations write into it). Targets: no 5xx answer, no tensor left behind, RSS
 * (after a full GC) within 5% between request 1,000 and the last, and between request 3,000 and
 * the last: V8 has grown its young generation (to 16 MB semi-spaces) by request 1,000, but compiles
 * code until about 10,000, which is warm-up, not memory kept (heap snapshots at 10,000, 30,000 and
 * 60,000 differ by compiled code, and one model cached at request 12,539; what the step is made
 * of: docs/ARCHITECTURE.md, malloc). The process runs with the functions' node and malloc settings
 * (lib/runtime/processEnv.ts).
 * Reported beside RSS: V8's heap, the wasm backend's heap (it only grows), tensors.
 *
 *   npx tsx bench/soak.ts [--quick] [--requests N]   (alone)
 *
 * --requests runs longer (or shorter) than 10,000, e.g. 30,000 to see RSS level off; the targets
 * still compare requests 1,000 and 3,000 with the last. Past request 12,539 "tensors left" reads 2:
 * the evaluations handler then loads spam for the first time (its own model cache, as its Lambda's).
 */
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { FUNCTION_PROCESS_ENV } from '../lib/runtime/processEnv.js';
import { buildHandlers } from '../scripts/build.js';
import { childEnv, runChild } from './spawnTimer.js';
import { atMost, type Target } from './targets.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.dirname(benchDir);

interface Memory {
  rssMb: number;
  heapTotalMb: number;
  heapUsedMb: number;
  /** The wasm backend's heap: it only grows (WebAssembly memory cannot shrink). */
  wasmHeapMb: number;
  externalMb: number;
  tensors: number;
  tensorMb: number;
}

export interface SoakResult {
  requests: number;
  checkpoint: number;
  settled: number;
  seconds: number;
  start: Memory;
  atCheckpoint: Memory;
  atSettled: Memory;
  series: { i: number; rssMb: number; heapTotalMb: number; wasmHeapMb: number }[];
  end: Memory;
  statuses: Record<string, number>;
  serverErrors: { i: number; fn: string; method: string; route: string; status: number; body: string }[];
  serverErrorCount: number;
  tensorsLeft: number;
  /** (end RSS - RSS at the checkpoint) / RSS at the checkpoint, in percent. */
  rssGrowthPercent: number;
  /** The same from the settled point (request 3,000): what is kept, not V8's warm-up. */
  settledRssGrowthPercent: number;
  /** The malloc settings the process ran with (serverless.yml's, as the functions run). */
  malloc: Record<string, string>;
  targets: Target[];
}

export async function measureSoak(options: { quick: boolean; seed?: number; requests?: number }): Promise<SoakResult> {
  const models = await mkdtemp(path.join(os.tmpdir(), 'soak-models-'));
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'soak-dist-'));
  try {
    await cp(path.join(repoRoot, 'models'), models, { recursive: true });
    // The AWS SDK stays external in the bundles (Lambda provides it): node_modules above plays that part.
    await symlink(path.join(repoRoot, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
    await buildHandlers({ handlersDir: path.join(benchDir, 'soakHandlers'), outDir });
    const requests = options.requests ?? (options.quick ? 2000 : 10_000);
    // The functions' process settings (serverless.yml's, which a test keeps equal to these): node and glibc read them when the process starts, as in Lambda.
    const malloc = { ...FUNCTION_PROCESS_ENV };
    const env = childEnv({ MODEL_STORE_URI: `file://${models}`, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', ...malloc });
    const run = await runChild(path.join(benchDir, 'children', 'soak.mjs'), [path.join(outDir, 'all', 'index.js'), models, String(requests), String(options.seed ?? 20261129)], {
      env,
      cwd: outDir,
      timeoutMs: 60 * 60_000,
    });
    const report = run.reports[0] as Omit<SoakResult, 'rssGrowthPercent' | 'settledRssGrowthPercent' | 'malloc' | 'targets'>;
    const growth = (from: Memory) => Math.round(((report.end.rssMb - from.rssMb) / from.rssMb) * 1000) / 10;
    const rssGrowthPercent = growth(report.atCheckpoint);
    const settledRssGrowthPercent = growth(report.atSettled);
    const targets = [
      atMost(`soak: 5xx answers in ${report.requests} requests`, 0, 'answers', report.serverErrorCount),
      atMost(`soak: tensors left (request ${report.requests} vs ${report.checkpoint})`, 0, 'tensors', report.tensorsLeft),
      atMost(`soak: RSS growth from request ${report.checkpoint} to ${report.requests} (V8 warm-up included)`, 5, '%', rssGrowthPercent),
      atMost(`soak: RSS growth from request ${report.settled} to ${report.requests}`, 5, '%', settledRssGrowthPercent),
    ];
    return { ...report, malloc, rssGrowthPercent, settledRssGrowthPercent, targets };
  } finally {
    await rm(models, { recursive: true, force: true });
    await rm(outDir, { recursive: true, force: true });
  }
}

export function formatSoak(soak: SoakResult): string {
  const row = (label: string, m: Memory) =>
    `  ${label.padEnd(22)} RSS ${m.rssMb} MB, V8 heap ${m.heapUsedMb} MB used of ${m.heapTotalMb} MB, external ${m.externalMb} MB, wasm heap ${m.wasmHeapMb} MB, ${m.tensors} tensors (${m.tensorMb} MB)`;
  return [
    `soak: ${soak.requests} requests through the built handlers in one process (${Object.entries(soak.malloc)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}), ${soak.seconds} s; answers by status ${JSON.stringify(soak.statuses)}`,
    row('start', soak.start),
    row(`after ${soak.checkpoint}`, soak.atCheckpoint),
    row(`after ${soak.settled}`, soak.atSettled),
    row(`after ${soak.requests}`, soak.end),
    `  RSS growth ${soak.rssGrowthPercent}% from ${soak.checkpoint}, ${soak.settledRssGrowthPercent}% from ${soak.settled}; tensors left ${soak.tensorsLeft}, 5xx ${soak.serverErrorCount}`,
    `  every 1,000 requests, RSS / V8 heap total / wasm heap (MB): ${soak.series.map((s) => `${s.rssMb}/${s.heapTotalMb}/${s.wasmHeapMb}`).join(' ')}`,
    ...soak.serverErrors.map((e) => `  5xx #${e.i}: ${e.method} ${e.route} (${e.fn}) -> ${e.status} ${e.body}`),
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, requests: { type: 'string' } } });
  const requests = values.requests === undefined ? undefined : Number(values.requests);
  if (requests !== undefined && !(Number.isInteger(requests) && requests >= 1000))
    throw new Error(`--requests: a whole number of at least 1000 (the first checkpoint), not ${values.requests}`);
  const soak = await measureSoak({ quick: values.quick, requests });
  console.log(formatSoak(soak));
  for (const t of soak.targets) console.log(`${t.name}: ${t.value} (${t.target}) ${t.met ? 'met' : 'UNMET'}`);
  process.exit(0);
}
