/**
 * A worker of `modelctl batch` (lib/batch/shard/local.ts): receives ranges over IPC, scores each
 * (lib/batch/shard/range.ts) with the model store of the environment, and reports back. One TF.js
 * per process: the parent runs as many as it was asked for.
 */
import { readFileSync } from 'node:fs';
import { failureKind, type RangeTask, type WorkerMessage } from '../lib/batch/shard/local.js';
import { outputsFor, shardOutputsFor } from '../lib/batch/paths.js';
import { scoreRange } from '../lib/batch/shard/range.js';
import { createServices } from '../lib/services.js';
import { IntegrityError } from '../lib/errors.js';

const services = createServices();

// Only while the parent listens: a report sent after it is gone would throw (ERR_IPC_CHANNEL_CLOSED).
const send = (message: WorkerMessage) => process.connected && process.send?.(message);

// The parent is gone (interrupted, killed): no run will join what this worker writes, so it stops
// now rather than finish its range as an orphan. The parts it leaves, the next run into --out reuses or removes.
process.on('disconnect', () => process.exit(1));

/**
 * The most this process has held (Linux's VmHWM). Not getrusage's maxrss: Linux carries that over
 * exec from the parent, so every worker would report the parent's RSS at the fork.
 */
function peakRss(): number {
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kib === undefined ? process.memoryUsage().rss : Number(kib) * 1024;
}

process.on('message', async (task: RangeTask) => {
  const io = { source: services.openStore(task.sourceUri), output: services.openStore(task.outputUri) };
  const started = performance.now();
  const cpu = process.cpuUsage();
  try {
    await scoreRange(io, services.loader, task.input, shardOutputsFor(outputsFor(task.input, task.outputPrefix), task.plan.etag), task.plan, task.range, services.batchLimits);
    const rssBytes = process.memoryUsage().rss;
    const used = process.cpuUsage(cpu);
    send({
      type: 'done',
      index: task.range.index,
      rssBytes,
      peakRssBytes: peakRss(),
      cpuMs: (used.user + used.system) / 1000,
      wallMs: performance.now() - started,
    });
  } catch (error) {
    // Damage also in its public words (which version or alias, what to do), which the failed manifest says.
    const publicMessage = error instanceof IntegrityError ? error.publicMessage : undefined;
    send({ type: 'failed', index: task.range.index, error: (error as Error).message, kind: failureKind(error), publicMessage });
  }
});
send({ type: 'ready' });
