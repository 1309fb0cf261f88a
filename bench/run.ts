/**
 * npm run bench: every performance number of the project, measured in one run so that ratios are
 * comparable (machines are shared and noisy). Prints tables and writes bench/results/<date>.json
 * and bench/results/latest.json.
 *
 *   npm run bench                 full run (a few minutes)
 *   npm run bench -- --quick      fewer repetitions, for a smoke test
 *   npm run bench -- --models iris,digits
 *   npm run bench -- --no-logging-row   skip the rows measured with Powertools logging on
 *   npm run bench -- --skip-evaluate    skip section 5 (alone: npx tsx bench/evaluate.ts [--quick])
 *   npm run bench -- --skip-batch       skip section 6 (alone: npx tsx bench/batch.ts [--quick])
 *   npm run bench -- --skip-training    skip sections 7-8 (alone: npx tsx bench/wasmKernels.ts, bench/fineTune.ts)
 *   npm run bench -- --skip-explain     skip section 9 (alone: npx tsx bench/explain.ts [--quick])
 *   npm run bench -- --skip-preprocess  skip section 10
 *   npm run bench -- --skip-soak        skip section 11 (alone: npx tsx bench/soak.ts [--quick])
 *   npm run bench -- --skip-shard       skip section 12 (alone: npx tsx bench/batchShard.ts [--quick])
 *
 * 1. bundle, wasm and zip bytes per handler (scripts/build.ts's esbuild configuration)
 * 2. model load in a fresh `node` process, from process start to model ready (built bundle)
 * 3. cold start of the built predict bundle: spawn -> answer, measured by the parent
 * 4. handler latency vs raw model.predict per demo model at batch 1 and 256, with a per-stage breakdown
 *    (and at batch 1 once more with Powertools logging and metrics on)
 * 5. evaluate: rows/s of a 100k-row CSV evaluation vs raw model.predict on the same rows, per stage,
 *    and peak RSS of a fresh process at 100k vs 1M rows (bench/evaluate.ts)
 * 6. batch scoring: rows/s of scoreObject on an iris CSV and a digits JSONL vs raw model.predict on the
 *    same rows, and peak RSS of a fresh process at 20k vs 200k iris rows (bench/batch.ts)
 * 7-8. wasm training kernels; fine-tune epochs; 9. explanations; 10. image preprocessing
 * 11. the soak: 10,000 mixed requests through every HTTP handler's bundle in one process (bench/soak.ts)
 * 12. sharded batch scoring on this machine: 1 and 2 workers on a 4M-row file, RSS and busy cores per worker (bench/batchShard.ts),
 *     in a fresh process, on this node (the targets) and on Node 22 (reported)
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Manifest } from '../lib/registry/manifest.js';
import type { ShardBenchResult } from './batchShard.js';
import type { LatencyRow } from './latency.js';
import { runReportingChild } from './reportingChild.js';

// Before anything imports the handler: Powertools reads these when its logger and metrics are created.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
process.env.MODEL_STORE_URI ??= pathToFileURL(path.join(repoRoot, 'models')).href;

const DEMO_MODELS = ['iris', 'housing', 'spam', 'digits'];
const BATCHES = [1, 256];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      models: { type: 'string' },
      'no-logging-row': { type: 'boolean', default: false },
      'skip-evaluate': { type: 'boolean', default: false },
      'skip-batch': { type: 'boolean', default: false },
      'skip-training': { type: 'boolean', default: false },
      'skip-explain': { type: 'boolean', default: false },
      'skip-preprocess': { type: 'boolean', default: false },
      'skip-soak': { type: 'boolean', default: false },
      'skip-shard': { type: 'boolean', default: false },
    },
  });
  const quick = values.quick;
  const models = values.models ? values.models.split(',').map((m) => m.trim()) : DEMO_MODELS;
  const runs = quick ? 3 : 7;
  const iterations = (batch: number) => (batch === 1 ? { warmup: quick ? 5 : 30, iterations: quick ? 15 : 100 } : { warmup: quick ? 2 : 5, iterations: quick ? 5 : 30 });

  // Imported here, after the environment above is set.
  const { measureBundles, BUNDLE_BUDGET_BYTES } = await import('./bundles.js');
  const { measureColdStart, measureModelLoad } = await import('./freshProcess.js');
  const { measureLatency } = await import('./latency.js');
  const { casesFor } = await import('./requests.js');
  const { withObservabilityOn } = await import('./observability.js');
  const { atMost } = await import('./targets.js');
  const { formatTable } = await import('./table.js');
  const { loader } = await (await import('./services.js')).benchServices();
  const { parseModelRef } = await import('../lib/registry/index.js');
  const { backendName, initBackend } = await import('../lib/runtime/backend.js');

  const notes: string[] = [];
  const log = (message: string) => console.error(`[bench] ${message}`);
  const started = new Date();

  // 1. Bundles, into a private folder (a concurrent `npm run build` may be writing dist/).
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'tfjs-bench-dist-'));
  try {
    // The bundles leave @aws-sdk/* external (Lambda's runtime provides it, scripts/build.ts): a
    // node_modules link above them plays that part here, as dist/ inside the repo would.
    await symlink(path.join(repoRoot, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
    log(`building handlers into ${outDir}`);
    const { bundles, zips } = await measureBundles(outDir);

    // 2 and 3. Fresh processes on the built bundles.
    const fresh = { outDir, modelStoreUri: process.env.MODEL_STORE_URI!, runs };
    const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
      log(what);
      try {
        return await fn();
      } catch (error) {
        notes.push(`${what} skipped: ${(error as Error).message.slice(0, 500)}`);
        log(notes[notes.length - 1]);
        return undefined;
      }
    };
    const modelLoad = await attempt(`model load in a fresh process (${runs} runs)`, () => measureModelLoad(fresh, 'iris'));
    const irisCase = (await casesFor(await loader.withModel(parseModelRef('iris'), (l) => l.manifest), 1))[0];
    const coldStart = await attempt(`cold start of the predict bundle (${runs} runs)`, () => measureColdStart(fresh, 'iris', irisCase.path, irisCase.body));
    // The same on Node 22 (Lambda's nodejs22.x), first as a new sandbox starts (nothing cached), then
    // as a restart within one (NODE_COMPILE_CACHE, which serverless.yml sets, filled by the first run).
    const { node22 } = await import('../scripts/local/node22.js');
    const coldStart22 = await attempt(`cold start on Node 22 (${runs} runs)`, async () => measureColdStart(fresh, 'iris', irisCase.path, irisCase.body, { node: await node22() }));
    const { measureMobileNetColdStart } = await import('./mobileNetColdStart.js');
    const mobileNetCold = await attempt(`cold start with MobileNetV2 from s3rver (${runs} runs)`, () => measureMobileNetColdStart({ outDir, runs }));
    const coldStart22Cached = await attempt(`cold start on Node 22 with a compile cache (${runs} runs)`, async () => {
      const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'compile-cache-'));
      try {
        return await measureColdStart(fresh, 'iris', irisCase.path, irisCase.body, { node: await node22(), compileCacheDir: cacheDir });
      } finally {
        await rm(cacheDir, { recursive: true, force: true });
      }
    });

    // 4. In-process latency.
    const backend = await initBackend().then(() => backendName());
    const latency: LatencyRow[] = [];
    for (const name of models) {
      let manifest: Manifest;
      try {
        manifest = await loader.withModel(parseModelRef(name), (l) => l.manifest);
      } catch (error) {
        notes.push(`model ${name} skipped: ${(error as Error).message}`);
        log(notes[notes.length - 1]);
        continue;
      }
      for (const batch of BATCHES) {
        for (const c of await casesFor(manifest, batch)) {
          log(`latency ${c.label} batch ${batch}`);
          try {
            latency.push(await measureLatency(c, iterations(batch)));
          } catch (error) {
            notes.push(`${c.label} batch ${batch} skipped: ${(error as Error).message}`);
            log(notes[notes.length - 1]);
          }
        }
      }
    }

    // The same handler with Powertools logging and metrics on, as deployed (batch 1, where fixed costs show).
    if (!values['no-logging-row']) {
      for (const name of ['iris', 'digits']) {
        if (!latency.some((r) => r.model === name || r.model.startsWith(`${name} (`))) continue;
        const manifest = await loader.withModel(parseModelRef(name), (l) => l.manifest);
        const c = (await casesFor(manifest, 1))[0];
        log(`latency ${c.label} batch 1, logging and metrics on`);
        const { result, lines } = await withObservabilityOn(() => measureLatency({ ...c, label: `${c.label} +logs` }, iterations(1)));
        latency.push(result);
        notes.push(`${c.label} +logs: Powertools logger at INFO and metrics enabled; ${lines} stdout lines swallowed`);
      }
    }

    // 5. Evaluate throughput and memory.
    const { measureEvaluate, formatEvaluate, evaluateTargets, EVALUATE_MODELS } = await import('./evaluate.js');
    const evaluateModels = EVALUATE_MODELS.filter((m) => models.includes(m));
    const evaluate =
      values['skip-evaluate'] || evaluateModels.length === 0
        ? undefined
        : await attempt('evaluate throughput and peak RSS', () =>
            measureEvaluate({ quick, log, models: evaluateModels, rssModels: quick ? evaluateModels.slice(0, 1) : evaluateModels }),
          );
    if (evaluate) notes.push(...evaluate.notes);
    // The CSV parsers the tabular paths were chosen from (bench/csvParsers.ts), on our files.
    const { measureParsers } = await import('./csvParsers.js');
    const csvParsers = values['skip-evaluate'] ? undefined : await attempt('CSV parsers on 100k-row iris and housing files', () => measureParsers({ quick }));

    // 6. Batch scoring throughput and memory.
    const { measureBatch, formatBatch, batchTargets } = await import('./batch.js');
    const batch = values['skip-batch'] ? undefined : await attempt('batch scoring throughput and peak RSS', () => measureBatch({ quick, log }));
    if (batch) notes.push(...batch.notes);

    // 7. wasm training kernels against cpu; 8. fine-tune epochs against raw fit.
    const { benchWasmKernels, formatWasmKernels } = await import('./wasmKernels.js');
    const { benchFineTune } = await import('./fineTune.js');
    const wasmKernels = values['skip-training'] ? undefined : await attempt('wasm training kernels', () => benchWasmKernels({ quick }));
    const fineTune = values['skip-training'] ? undefined : await attempt('fine-tune epochs', () => benchFineTune({ quick }));

    // 9. Explanations.
    const { measureExplain, formatExplain } = await import('./explain.js');
    const explain = values['skip-explain'] ? undefined : await attempt('explanations', () => measureExplain({ quick }));
    if (explain) notes.push(...explain.notes);

    // 10. Image preprocessing of a photo against a MobileNet-sized predict.
    const { measurePreprocess, formatPreprocess } = await import('./preprocess.js');
    const preprocess = values['skip-preprocess'] ? undefined : await attempt('image preprocessing', () => measurePreprocess({ quick }));

    // 11. The soak.
    const { measureSoak, formatSoak } = await import('./soak.js');
    const soak = values['skip-soak'] ? undefined : await attempt('soak (mixed requests through every HTTP handler)', () => measureSoak({ quick }));

    // 12. Sharded batch scoring with local workers, each run in a fresh process as `modelctl batch`
    // runs (this one holds every section before it): on this node, whose figures the targets read,
    // then on Node 22 (Lambda's runtime, where the range functions score; reported, not a target).
    const { formatShardedBatch } = await import('./batchShard.js');
    const shardIn = async (node?: string): Promise<ShardBenchResult> =>
      (await runReportingChild('batchShard.ts', quick ? ['--quick'] : [], 30 * 60_000, node)) as unknown as ShardBenchResult;
    const shard = values['skip-shard'] ? undefined : await attempt('sharded batch scoring, 1 and 2 local workers', () => shardIn());
    const shard22 = values['skip-shard']
      ? undefined
      : await attempt('sharded batch scoring on Node 22', async () => {
          const { targets: _notHeld, ...measured } = await shardIn(await node22());
          return measured;
        });

    // Targets.
    const rowOf = (model: string, batch: number) => latency.find((r) => r.model === model && r.batch === batch);

    const targets = [
      ...bundles.map((b) => atMost(`bundle ${b.name} (start-up: index.js + static chunks)`, BUNDLE_BUDGET_BYTES, 'bytes', b.startupBytes)),
      // modelImport carries h5wasm (the HDF5 library as wasm, inlined in its JS: 4 MB, 1 MB zipped);
      // it runs on S3 events, never on a request's path, so its zip has 2 MB.
      ...zips.map((z) => atMost(`zip ${z.name}`, z.name === 'modelImport' ? 2_000_000 : 1_000_000, 'bytes', z.zipBytes)),
      atMost('model load iris (process start -> ready, median)', 200, 'ms', modelLoad?.modelReadyMs, modelLoad ? `backend ${modelLoad.backend}` : undefined),
      atMost('cold start predict iris (spawn -> answer, p50)', 300, 'ms', coldStart?.wallMs.p50, coldStart ? `backend ${coldStart.backend}` : undefined),
      atMost('MobileNetV2 from S3: predict bundle cold start / bare tf.loadLayersModel + predict, pair by pair', 1.3, 'x', mobileNetCold?.ratio),
      ...[coldStart, coldStart22, coldStart22Cached].map((c) =>
        atMost(`cold start / bare node, pair by pair (${c ? `${c.node}${c.compileCache ? ', compile cache' : ''}` : 'not measured'})`, 1.5, 'x', c?.ratio),
      ),
      atMost('digits (raw) handler/raw p50 at batch 1', 1.15, 'x', rowOf('digits (raw)', 1)?.ratio, rowOf('digits (raw)', 1) ? undefined : 'digits not measured'),
      atMost('digits (raw) handler/raw p50 at batch 256', 1.05, 'x', rowOf('digits (raw)', 256)?.ratio, rowOf('digits (raw)', 256) ? undefined : 'digits not measured'),
      atMost('digits (binary) handler/raw p50 at batch 1', 1.1, 'x', rowOf('digits (binary)', 1)?.ratio, rowOf('digits (binary)', 1) ? undefined : 'digits not measured'),
      atMost('digits (binary) handler/raw p50 at batch 256', 1.05, 'x', rowOf('digits (binary)', 256)?.ratio, rowOf('digits (binary)', 256) ? undefined : 'digits not measured'),
      ...evaluateTargets(evaluate),
      ...(values['skip-batch'] ? [] : batchTargets(batch)),
      ...(wasmKernels?.targets ?? []),
      ...(fineTune?.targets ?? []),
      ...(explain?.targets ?? []),
      ...(preprocess?.targets ?? []),
      ...(soak?.targets ?? []),
      ...(shard?.targets ?? []),
    ];

    const result = {
      date: started.toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cpuCount: os.cpus().length,
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
      backend,
      quick,
      bundles: bundles.map(({ bundleFile: _file, ...b }) => b),
      zips: zips.map((z) => ({ name: z.name, zipBytes: z.zipBytes, files: z.files })),
      modelLoad: modelLoad ?? null,
      coldStart: coldStart ?? null,
      coldStart22: coldStart22 ?? null,
      coldStart22Cached: coldStart22Cached ?? null,
      mobileNetColdStart: mobileNetCold ?? null,
      latency,
      evaluate: evaluate ?? null,
      csvParsers: csvParsers ?? null,
      batch: batch ?? null,
      wasmKernels: wasmKernels ?? null,
      fineTune: fineTune ?? null,
      explain: explain ?? null,
      preprocess: preprocess ?? null,
      soak: soak ?? null,
      shardedBatch: shard ?? null,
      shardedBatchNode22: shard22 ?? null,
      targets,
      notes,
    };

    // Output.
    console.log(`\n${result.date}  node ${result.node}  ${result.cpu} x${result.cpuCount}  load ${result.loadAverage.join(' ')}  backend ${backend}\n`);
    console.log(
      formatTable(
        ['handler', 'index.js bytes', 'wasm bytes', 'zip bytes'],
        bundles.map((b) => [b.name, b.indexJsBytes, b.wasmBytes, zips.find((z) => z.name === b.name)?.zipBytes]),
      ),
    );
    if (modelLoad)
      console.log(
        `\nmodel load (fresh node, metadata bundle, ${modelLoad.runs} runs, medians, ms since process start): import ${modelLoad.importedMs}, backend ready ${modelLoad.backendReadyMs}, iris ready ${modelLoad.modelReadyMs} (load alone ${modelLoad.loadOnlyMs}) [${modelLoad.backend}]`,
      );
    for (const c of [coldStart, coldStart22, coldStart22Cached].filter((x) => x !== undefined)) {
      console.log(
        `cold start on ${c.node}${c.compileCache ? ' with a compile cache' : ''}: p50 ${c.wallMs.p50} ms, bare node p50 ${c.bareMs.p50} ms, ratio ${c.ratio} (pair by pair)`,
      );
    }
    if (mobileNetCold) {
      console.log(
        `cold start with MobileNetV2 (${mobileNetCold.weightsBytes} bytes of weights) from s3rver, one binary 224x224x3 request: predict bundle ${mobileNetCold.ourMs} ms, bare tf.loadLayersModel + predict ${mobileNetCold.rawMs} ms, ratio ${mobileNetCold.ratio} (pair by pair)`,
      );
    }
    if (coldStart)
      console.log(
        `cold start (predict bundle, iris, ${coldStart.runs} runs, spawn -> answer): p50 ${coldStart.wallMs.p50} ms, p99 ${coldStart.wallMs.p99} ms; child clock: imported ${coldStart.childImportedMs}, answered ${coldStart.childAnsweredMs} [${coldStart.backend}]\n`,
      );
    console.log(
      formatTable(
        ['model', 'batch', 'handler p50', 'handler p99', 'raw p50', 'raw p99', 'ratio', 'leaked tensors'],
        latency.map((r) => [r.model, r.batch, r.handlerP50, r.handlerP99, r.rawP50, r.rawP99, r.ratio, r.leakedTensors]),
      ),
    );
    console.log('(ms; raw = tidy(model.predict(x)) + data() on the same rows already as a tensor; ratio = handler p50 / raw p50)\n');
    const order = ['http wrapper', 'withModel', 'zod parse', 'decode', 'encode natural', 'runModel', 'encode answer', 'rest'];
    const stageNames = [...new Set([...order, ...latency.flatMap((r) => Object.keys(r.stages))])].filter((s) => latency.some((r) => s in r.stages));
    console.log(
      formatTable(
        ['model', 'batch', 'handler p50', ...stageNames],
        latency.map((r) => [r.model, r.batch, r.handlerP50, ...stageNames.map((s) => r.stages[s])]),
      ),
    );
    console.log(
      "(ms. Stages: the handler's steps timed alone, p50. http wrapper = lib/http/handler.ts around an empty route (event adapter, router, Powertools logger + metrics); withModel = loader lookup; zod parse = route schema; decode = protocol decode (TF Serving or OIP, incl. flattenNested); encode natural = input transform; runModel = tensors + predict + data(); encode answer = labels / nest; rest = handler p50 - sum of the stages.)\n",
    );
    if (evaluate) console.log(await formatEvaluate(evaluate));
    if (csvParsers) {
      console.log(
        formatTable(
          ['CSV parser', 'handles quotes, CRLF', 'iris rows/s', 'housing rows/s'],
          csvParsers.map((p) => [p.parser, p.correct ? 'yes' : 'NO', p.rowsPerSecond.iris, p.rowsPerSecond.housing]),
        ),
      );
      console.log('(100,000 rows each, to arrays of cells, streamed in 64 KB chunks; medians. udsv is not used: a row short of fields swallows the next line.)\n');
    }
    if (batch) console.log(await formatBatch(batch));
    if (wasmKernels) console.log(formatWasmKernels(wasmKernels));
    if (fineTune) {
      console.log(
        formatTable(
          ['model', 'train rows', 'fine-tune epoch ms', 'raw fit epoch ms', 'ratio'],
          fineTune.epoch.map((e) => [e.model, e.rows, e.oursMs, e.rawFitMs, e.ratio]),
        ),
      );
      console.log(
        `digits fine-tune epoch (${fineTune.backends.rows} rows): wasm ${fineTune.backends.wasmMs} ms, cpu ${fineTune.backends.cpuMs} ms, ${fineTune.backends.speedup}x\n`,
      );
    }
    if (explain) console.log(await formatExplain(explain));
    if (preprocess) console.log(formatPreprocess(preprocess));
    if (soak) console.log(formatSoak(soak));
    if (shard) console.log(formatShardedBatch(shard));
    if (shard22) console.log(`on Node 22 (Lambda's runtime; reported, not held to the targets):\n${formatShardedBatch({ ...shard22, targets: [] })}`);
    console.log(
      formatTable(
        ['target', 'limit', 'value', 'met'],
        targets.map((t) => [t.name, t.target, t.value, t.met === null ? `n/a (${t.note})` : t.met ? 'met' : 'UNMET']),
      ),
    );
    for (const note of notes) console.log(`note: ${note}`);

    const resultsDir = path.join(benchDir, 'results');
    await mkdir(resultsDir, { recursive: true });
    const json = `${JSON.stringify(result, null, 2)}\n`;
    const stamp = result.date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
    await writeFile(path.join(resultsDir, `${stamp}.json`), json);
    await writeFile(path.join(resultsDir, 'latest.json'), json);
    log(`wrote bench/results/${stamp}.json and bench/results/latest.json`);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0), // the wasm backend can keep the event loop alive
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
