/**
 * `modelctl batch <file|s3-uri> --model m --workers N --out <dir|s3-uri>`: scores a file with the
 * sharded plan on this machine (lib/batch/shard/local.ts), writing the outputs a batch run writes
 * (<name>.predictions.csv|jsonl, <name>.errors.jsonl, <name>.manifest.json) under --out.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatOfName, outputsFor, type BatchInput } from '../../lib/batch/paths.js';
import { letGoOfRun, runLocally, type LocalRunOptions } from '../../lib/batch/shard/local.js';
import type { BatchManifest } from '../../lib/batch/state.js';
import { batchWorkerNodeFlags, FUNCTION_PROCESS_ENV } from '../../lib/runtime/processEnv.js';
import type { Services } from '../../lib/services.js';
import { UsageError } from '../errors.js';
import { checkRefExists, refArgument } from '../refs.js';
import { checkInputFile, checkOutputDir } from '../userFiles.js';
import { buildWorker } from '../workerBundle.js';

export interface BatchCommandOptions {
  model: string;
  workers?: string;
  out: string;
  rangeBytes?: string;
  /** Seconds a worker may spend on one range before it is killed and the range redone. */
  rangeTimeout?: string;
  /** Tests and the bench: told when a worker starts and finishes a range. */
  onRangeStart?: (index: number, pid: number) => void;
  onRangeDone?: LocalRunOptions['onRangeDone'];
  onPhase?: (phase: 'planned' | 'first worker ready' | 'scored' | 'joined') => void;
}

/** A default range: large enough that planning and joining are small beside scoring. */
const DEFAULT_RANGE_BYTES = 16 * 2 ** 20;

/** Where a file is: its folder (or bucket prefix) as a store URI, and its key there. */
function locate(file: string): { uri: string; key: string } {
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(file);
  if (s3) {
    const cut = s3[2].lastIndexOf('/');
    return { uri: `s3://${s3[1]}/${s3[2].slice(0, cut + 1)}`, key: s3[2].slice(cut + 1) };
  }
  const absolute = path.resolve(file.startsWith('file://') ? fileURLToPath(file) : file);
  return { uri: pathToFileURL(path.dirname(absolute)).href, key: path.basename(absolute) };
}

function outUri(out: string): string {
  return /^(s3|file):\/\//.test(out) ? out : pathToFileURL(path.resolve(out)).href;
}

export async function batch(services: Services, file: string, options: BatchCommandOptions): Promise<BatchManifest> {
  const ref = refArgument(options.model);
  const { uri: sourceUri, key } = locate(file);
  const format = formatOfName(key);
  if (!format) throw new UsageError(`${file}: only .csv, .jsonl and .ndjson files are scored`);
  // A local file that is not there is the user's mistake (exit 2); an s3:// object that is not there is the store's to say.
  if (!file.startsWith('s3://')) await checkInputFile(undefined, file.startsWith('file://') ? fileURLToPath(file) : file);
  const outputUri = outUri(options.out);
  const input: BatchInput = { key, ref, format, relative: key };
  const workers = options.workers === undefined ? availableParallelism() : Number(options.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a whole number of at least 1, got ${options.workers}`);
  const targetBytes = options.rangeBytes === undefined ? DEFAULT_RANGE_BYTES : Number(options.rangeBytes);
  if (!Number.isFinite(targetBytes) || targetBytes < 1) throw new UsageError(`--range-bytes must be a positive number, got ${options.rangeBytes}`);
  const rangeTimeout = options.rangeTimeout === undefined ? undefined : Number(options.rangeTimeout);
  // Node's timers hold at most 2^31-1 ms (24.8 days); a longer one would fire at once.
  if (rangeTimeout !== undefined && !(Number.isFinite(rangeTimeout) && rangeTimeout > 0 && rangeTimeout * 1000 <= 2 ** 31 - 1)) {
    throw new UsageError(`--range-timeout must be a positive number of seconds, at most 2147483 (24.8 days), got ${options.rangeTimeout}`);
  }
  await checkRefExists(services.store, ref);
  // file:// URIs as the store reads them (lib/store/index.ts): file:///abs/path, or file://path from the cwd.
  if (!options.out.startsWith('s3://')) await checkOutputDir('--out', options.out.startsWith('file:///') ? fileURLToPath(options.out) : options.out.replace(/^file:\/\//, ''));
  const here = path.dirname(fileURLToPath(import.meta.url));
  const worker = await buildWorker(path.resolve(here, '../batchWorker.ts'), path.resolve(here, '../..'));
  const interruption = new AbortController();
  const interrupted = (signal: NodeJS.Signals) => {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    interruption.abort();
    const outputs = outputsFor(input, '');
    const letGo = () => letGoOfRun(services.openStore(outputUri), outputs);
    void stopOn(signal, async () => Promise.allSettled([worker.remove(), letGo()]).then(() => undefined), options.out, input);
  };
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
  try {
    return await runLocally({
      io: { source: services.openStore(sourceUri), output: services.openStore(outputUri) },
      sourceUri,
      outputUri,
      input,
      outputs: outputsFor(input, ''),
      outputPrefix: '',
      ref: input.ref,
      loader: services.loader,
      workers,
      targetBytes,
      rangeTimeoutMs: rangeTimeout === undefined ? undefined : rangeTimeout * 1000,
      workerScript: worker.script,
      // By node's version: lib/runtime/processEnv.ts says which flags and why.
      execArgv: batchWorkerNodeFlags(),
      // malloc as the range function has it (what the user's environment sets wins).
      env: { ...FUNCTION_PROCESS_ENV, ...process.env, MODEL_STORE_URI: services.config.modelStoreUri },
      signal: interruption.signal,
      onRangeStart: options.onRangeStart,
      onRangeDone: options.onRangeDone,
      onPhase: options.onPhase,
    });
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await worker.remove();
  }
}

/**
 * Ctrl-C or SIGTERM mid-run: the run ends now, by that signal (exit status 128 + its number), its
 * worker bundle removed (it was left in node_modules/.cache) and its claim on the outputs let go
 * (the same command resumes at once); the workers, cut off from this
 * process, stop themselves (cli/batchWorker.ts). What the finished ranges wrote stays in --out for
 * the next run to reuse.
 */
async function stopOn(signal: NodeJS.Signals, cleanUp: () => Promise<void>, out: string, input: BatchInput): Promise<void> {
  await cleanUp().catch(() => undefined);
  console.error(`modelctl: interrupted (${signal}): the ranges scored so far are kept in ${out} (${input.relative}.parts/), which the same command reuses`);
  process.kill(process.pid, signal);
}
