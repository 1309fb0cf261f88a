/**
 * A worker of `modelctl batch` (lib/batch/shard/local.ts): receives ranges over IPC, scores each
 * (lib/batch/shard/range.ts) with the model store of the environment, and reports back. One TF.js
 * per process: the parent runs as many as it was asked for.
 */
import { ServiceError } from '../lib/errors.js';
import type { RangeTask, WorkerMessage } from '../lib/batch/shard/local.js';
import { outputsFor } from '../lib/batch/paths.js';
import { scoreRange } from '../lib/batch/shard/range.js';
import { createServices } from '../lib/services.js';

const services = createServices();

/**
 * A worker's memory budget: 10% over what it held after its first range (model, backend, one
 * range's working set). V8 alone lets its old generation grow towards its heap limit (GBs) before
 * collecting, which N workers on one machine cannot all do; past the budget the worker collects
 * fully. Not after every range: a full collection also drops the optimized code of functions whose
 * closures are made per range, and recompiling it cost 20% of the scoring time (bench section 12).
 */
const RSS_BUDGET_SLACK = 1.1;
let firstRangeRss: number | undefined;
function collectIfGrown(): void {
  const rss = process.memoryUsage().rss;
  firstRangeRss ??= rss;
  if (rss > firstRangeRss * RSS_BUDGET_SLACK) (globalThis as { gc?: () => void }).gc?.();
}
const send = (message: WorkerMessage) => process.send?.(message);

process.on('message', async (task: RangeTask) => {
  const io = { source: services.openStore(task.sourceUri), output: services.openStore(task.outputUri) };
  const started = performance.now();
  const cpu = process.cpuUsage();
  try {
    await scoreRange(io, services.loader, task.input, outputsFor(task.input, task.outputPrefix), task.plan, task.range, services.limits);
    collectIfGrown();
    const used = process.cpuUsage(cpu);
    send({ type: 'done', index: task.range.index, rssBytes: process.memoryUsage().rss, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - started });
  } catch (error) {
    const clientError = error instanceof ServiceError && error.statusCode < 500;
    send({ type: 'failed', index: task.range.index, error: (error as Error).message, clientError });
  }
});
send({ type: 'ready' });
