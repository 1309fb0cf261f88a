// Peak RSS of one data set evaluation in a fresh process:
//   node --import tsx bench/children/evaluateRss.ts <models dir> <data dir> <model> <data set key> <label column> <max batch>
// Reports `BENCH {...}`: maxRSS (KiB, process.resourceUsage) once the backend and the model are
// loaded (the baseline), and at the end of the evaluation (the peak), with the time taken.
import { FolderStore } from '../../lib/store/folder.js';
import { ModelLoader } from '../../lib/loader/index.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { evaluateRequest } from '../../lib/ops/evaluate/request.js';
import { runEvaluation } from '../../lib/ops/evaluate/service.js';
import { localLimits } from '../../lib/runtime/memory.js';

const [modelsDir, dataDir, model, key, labelColumn, maxBatch] = process.argv.slice(2);
const report = (value: unknown) => process.stdout.write(`BENCH ${JSON.stringify(value)}\n`);
process.on('uncaughtException', (error) => {
  report({ error: error.message });
  process.exit(1);
});

const backend = await initBackend();
const loader = new ModelLoader(new FolderStore(modelsDir), { aliasTtlMs: 1000, maxBytes: 1e9 });
const data = new FolderStore(dataDir);
const result = await loader.withModel({ name: model, version: 1 }, async (loaded) => {
  const request = evaluateRequest.parse({ dataset: key, labelColumn });
  const baseline = process.resourceUsage().maxRSS;
  const started = performance.now();
  const evaluation = await runEvaluation(data, loaded, request, localLimits(Number(maxBatch)), undefined, data);
  const ms = performance.now() - started;
  const usage = process.resourceUsage();
  return {
    backend,
    warmMaxRssKb: baseline,
    maxRssKb: usage.maxRSS,
    rssNowKb: Math.round(process.memoryUsage().rss / 1024),
    heapUsedKb: Math.round(process.memoryUsage().heapUsed / 1024),
    rows: evaluation.count,
    ms,
    metrics: evaluation.metrics,
  };
});
report(result);
process.exit(0);
