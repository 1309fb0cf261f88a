/**
 * The composition root: what every handler, the CLI and the tests build once and pass down. The
 * configuration is read here and nowhere else; the model store and the cached model loader are
 * made from it. A Lambda builds one Services per process (at its first invocation); tests build
 * theirs from a configuration of their own, without touching process.env.
 */
import { readConfig, type Config } from './config.js';
import type { InvokeTarget } from './jobs/invokeAsync.js';
import type { JobEnvironment } from './jobs/worker.js';
import { ModelLoader } from './loader/index.js';
import { configureBackend } from './runtime/backend.js';
import { MemoryBudget, type RunLimits } from './runtime/memory.js';
import { openStore, type ObjectStore } from './store/index.js';

export interface Services {
  readonly config: Config;
  /** The model store (MODEL_STORE_URI): registry, job records, evaluations. */
  readonly store: ObjectStore;
  readonly loader: ModelLoader;
  /** MAX_BATCH and the memory budget every run is planned within. */
  readonly limits: RunLimits;
  /** Batch scoring's: BATCH_MAX_ROWS rows per micro-batch, within the same budget. */
  readonly batchLimits: RunLimits;
  /** The memory budget of the function that runs jobs (this one when jobs run in process). */
  readonly workerBudget: MemoryBudget;
  /** Opens another store with the same S3 settings (batch files, data sets named by URI). */
  openStore(uri: string): ObjectStore;
}

export function createServices(config: Config = readConfig()): Services {
  configureBackend({ backend: config.backend, wasmDir: config.wasmDir });
  const open = (uri: string) =>
    openStore(uri, { endpoint: config.s3Endpoint, forcePathStyle: config.s3ForcePathStyle, region: config.region, credentials: config.awsCredentials, retry: config.s3Retry });
  const store = open(config.modelStoreUri);
  const loader = new ModelLoader(store, { aliasTtlMs: config.aliasTtlMs, maxBytes: config.cacheMaxBytes, staleMaxMs: config.staleMaxMs });
  const overrideBytes = config.memoryBudgetBytes;
  const limits = { maxBatch: config.maxBatch, budget: new MemoryBudget({ functionBytes: config.functionMemoryBytes, overrideBytes }) };
  const workerBudget = config.jobWorkerFunction
    ? new MemoryBudget({ functionBytes: config.jobWorkerMemoryBytes, overrideBytes, sizeSetting: "serverless.yml's workerMemorySize: JOB_WORKER_MEMORY_SIZE" })
    : limits.budget;
  const batchLimits = { maxBatch: config.batchMaxRows, budget: limits.budget };
  return { config, store, loader, limits, batchLimits, workerBudget, openStore: open };
}

/** What jobs run with, and the worker that runs them (unset: this process). */
export function jobEnvironment(services: Services): JobEnvironment & { worker: InvokeTarget; workerTimeoutMs: number; workerMaxEventAgeMs: number } {
  const { config } = services;
  return {
    store: services.store,
    loader: services.loader,
    limits: services.limits,
    heartbeatMs: config.jobHeartbeatMs,
    worker: { functionName: config.jobWorkerFunction, lambdaEndpoint: config.lambdaEndpoint, region: config.region, hasAwsCredentials: config.hasAwsCredentials },
    workerTimeoutMs: config.jobWorkerTimeoutMs,
    workerMaxEventAgeMs: config.jobWorkerMaxEventAgeMs,
  };
}

/** Services over a configuration made from these variables only (tests, tools): process.env is not read. */
export function servicesFor(env: Record<string, string | undefined>): Services {
  return createServices(readConfig(env));
}

/**
 * The store that uploads (batch files, model imports) arrive in: the bucket that sent the event.
 * BATCH_STORE_URI overrides it; with a folder model store and no S3 endpoint (invoke local), the
 * model folder.
 */
export function uploadStore(services: Services, bucket: string): ObjectStore {
  const { batchStoreUri, modelStoreUri, s3Endpoint } = services.config;
  if (batchStoreUri) return services.openStore(batchStoreUri);
  if (modelStoreUri.startsWith('file://') && !s3Endpoint) return services.store;
  return services.openStore(`s3://${bucket}/`);
}
