/**
 * Every environment variable the bundle reads, parsed and validated in one place. The composition
 * root (lib/services.ts) reads it once per process; a bad value fails the cold start with a message
 * naming the variable, instead of a confusing error on the first request.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { z } from 'zod';

/** The repo's models/ folder, found from this file (source tree) or from a bundle in dist/<fn>/. */
function defaultModelsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [path.resolve(here, '../models'), path.resolve(here, '../../models'), path.resolve(process.cwd(), 'models')]) {
    if (existsSync(candidate)) return candidate;
  }
  return path.resolve(process.cwd(), 'models');
}

const positiveInt = z.coerce.number().int().positive();

const schema = z.object({
  MODEL_STORE_URI: z
    .string()
    .regex(/^(s3:\/\/[^/]+(\/.*)?|file:\/\/.+)$/, 'must be s3://bucket[/prefix] or file://path')
    .optional(),
  S3_ENDPOINT: z.url().optional(),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).optional(),
  TFJS_BACKEND: z.enum(['node', 'wasm', 'cpu']).optional(),
  TFJS_WASM_DIR: z.string().optional(),
  MODEL_ALIAS_TTL_SECONDS: z.coerce.number().min(0).default(30),
  MODEL_STALE_MAX_SECONDS: z.coerce.number().min(0).default(3600),
  S3_MAX_ATTEMPTS: positiveInt.max(10).default(3),
  S3_CONNECT_TIMEOUT_MS: positiveInt.default(1000),
  S3_SOCKET_TIMEOUT_MS: positiveInt.default(5000),
  MODEL_CACHE_MAX_BYTES: positiveInt.optional(),
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: positiveInt.optional(),
  MODEL_PRELOAD: z.string().optional(),
  MAX_BATCH: positiveInt.default(256),
  BATCH_MAX_ROWS: positiveInt.default(2048),
  EXPLAIN_MAX_INSTANCES: positiveInt.default(32),
  MEMORY_BUDGET_BYTES: positiveInt.optional(),
  JOB_WORKER_MEMORY_SIZE: positiveInt.optional(),
  JOB_WORKER_FUNCTION: z.string().optional(),
  JOB_WORKER_TIMEOUT_SECONDS: positiveInt.max(900).default(900),
  // Lambda's range for a function's maximum event age; its default is the longest, 6 hours.
  JOB_WORKER_MAX_EVENT_AGE_SECONDS: positiveInt.min(60).max(21600).default(21600),
  // At most 15 s: three intervals (the staleness limit) stay below the minute before Lambda's retry (lib/jobs/heartbeat.ts).
  JOB_HEARTBEAT_MS: positiveInt.max(15_000).optional(),
  LAMBDA_ENDPOINT: z.url().optional(),
  IS_OFFLINE: z.string().optional(),
  AWS_EXECUTION_ENV: z.string().optional(),
  AWS_REGION: z.string().optional(),
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  AWS_SESSION_TOKEN: z.string().optional(),
  BATCH_STORE_URI: z
    .string()
    .regex(/^(s3:\/\/[^/]+(\/.*)?|file:\/\/.+)$/)
    .optional(),
  BATCH_MARGIN_SECONDS: z.coerce.number().min(0).default(60),
  BATCH_SHARD_BYTES: positiveInt.default(256 * 2 ** 20),
  BATCH_RANGE_BYTES: positiveInt.default(64 * 2 ** 20),
  BATCH_MAX_CONCURRENCY: positiveInt.max(10_000).default(40),
  BATCH_STATE_MACHINE_NAME: z.string().optional(),
  BATCH_STATE_MACHINE_ARN: z.string().optional(),
  STEP_FUNCTIONS_ENDPOINT: z.url().optional(),
});

/** Every variable the configuration is read from (serverless.yml must pass each through: a test checks it). */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

export interface Config {
  modelStoreUri: string;
  s3Endpoint?: string;
  s3ForcePathStyle: boolean;
  backend?: 'node' | 'wasm' | 'cpu';
  wasmDir?: string;
  aliasTtlMs: number;
  /** While the store fails, a loaded model is served for this long past its last confirmation. */
  staleMaxMs: number;
  /** S3 calls: attempts (standard retry mode: exponential backoff with jitter), and timeouts. */
  s3Retry: { maxAttempts: number; connectionTimeoutMs: number; socketTimeoutMs: number };
  cacheMaxBytes: number;
  preload: string[];
  maxBatch: number;
  /**
   * Batch scoring's micro-batch: at most this many rows of a file read and run at once (fewer when
   * the memory budget says so). Larger than a request's MAX_BATCH: each model call costs the same
   * JavaScript whatever its rows, which for a small tabular model was most of the time (iris, 4
   * million rows through one worker: 11.2 to 11.8 s at 256 rows, 8.3 to 9.1 at 2048), and a
   * process running fewer calls is also done compiling them sooner. Not larger: at 4096 iris rows
   * the same ranges took 1.4 to 1.7 times as long as at 2048, with nearly twice the full collections
   * (23 against 13 in four ranges): more of a micro-batch's garbage outlives the young generation.
   */
  batchMaxRows: number;
  /** The function's memory in bytes (AWS_LAMBDA_FUNCTION_MEMORY_SIZE; 2048 MB outside Lambda). */
  functionMemoryBytes: number;
  /** MEMORY_BUDGET_BYTES: a fixed budget for one operation's tensors instead of the derived one. */
  memoryBudgetBytes?: number;
  /** The job worker's memory in bytes (JOB_WORKER_MEMORY_SIZE, MB): fine-tunes are checked against it when submitted. */
  jobWorkerMemoryBytes: number;
  /** The job worker's timeout (JOB_WORKER_TIMEOUT_SECONDS): a job run in this process gets as long. */
  jobWorkerTimeoutMs: number;
  /** The job worker's maximum event age (JOB_WORKER_MAX_EVENT_AGE_SECONDS): a queued job not started by then (and a margin) reads failed. */
  jobWorkerMaxEventAgeMs: number;
  /** How often the attempt running a job renews its heartbeat (JOB_HEARTBEAT_MS); unset: lib/jobs/heartbeat.ts's default, 10 s. */
  jobHeartbeatMs?: number;
  /** Instances one explain request may carry (each costs many model evaluations). */
  explainMaxInstances: number;
  /** The Lambda that runs jobs; unset, or not in a Lambda (tests, CLI, invoke local): jobs run in this process. */
  jobWorkerFunction?: string;
  lambdaEndpoint?: string;
  /** Running as a Lambda (in AWS, or under serverless offline): it can invoke functions by name. */
  inLambda: boolean;
  /** AWS_REGION, else us-east-1. */
  region: string;
  /** Credentials are in the environment (else a local Lambda endpoint is called with placeholders). */
  hasAwsCredentials: boolean;
  /** The environment's credentials, when it has them (else the SDK's default chain: profiles, instance roles...). */
  awsCredentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Where batch files are read and written; unset: the bucket that sent the event (see lib/batch). */
  batchStoreUri?: string;
  /** Batch scoring hands over to a new invocation when fewer seconds than this are left. */
  batchMarginMs: number;
  /** Sharded batch scoring (lib/batch/shard): files larger than shardBytes go to the state machine, in ranges of rangeBytes. */
  batchShard: { shardBytes: number; rangeBytes: number; maxConcurrency: number; stateMachineName?: string; stateMachineArn?: string; endpoint?: string };
}

export class ConfigError extends Error {}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable is an unset one: serverless.yml's `${env:X, default}` passes an empty X as it
  // is, and z.coerce.number would read it as 0 (an alias TTL of 0, a batch run with no margin).
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${detail}`);
  }
  const e = parsed.data;
  // Weights live in the JS heap and in wasm memory: keep the cache to a quarter of the function's memory.
  const lambdaMemoryBytes = (e.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? 2048) * 1024 * 1024;
  const inLambda = e.AWS_EXECUTION_ENV?.startsWith('AWS_Lambda') === true || e.IS_OFFLINE === 'true';
  return {
    modelStoreUri: e.MODEL_STORE_URI ?? pathToFileURL(defaultModelsDir()).href,
    s3Endpoint: e.S3_ENDPOINT,
    // A custom endpoint is almost always an S3-compatible server that wants path-style addressing.
    s3ForcePathStyle: e.S3_FORCE_PATH_STYLE ? e.S3_FORCE_PATH_STYLE === 'true' : Boolean(e.S3_ENDPOINT),
    backend: e.TFJS_BACKEND,
    wasmDir: e.TFJS_WASM_DIR,
    aliasTtlMs: e.MODEL_ALIAS_TTL_SECONDS * 1000,
    staleMaxMs: e.MODEL_STALE_MAX_SECONDS * 1000,
    s3Retry: { maxAttempts: e.S3_MAX_ATTEMPTS, connectionTimeoutMs: e.S3_CONNECT_TIMEOUT_MS, socketTimeoutMs: e.S3_SOCKET_TIMEOUT_MS },
    cacheMaxBytes: e.MODEL_CACHE_MAX_BYTES ?? Math.floor(lambdaMemoryBytes / 4),
    preload: (e.MODEL_PRELOAD ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    maxBatch: e.MAX_BATCH,
    batchMaxRows: e.BATCH_MAX_ROWS,
    explainMaxInstances: e.EXPLAIN_MAX_INSTANCES,
    functionMemoryBytes: lambdaMemoryBytes,
    memoryBudgetBytes: e.MEMORY_BUDGET_BYTES,
    jobWorkerMemoryBytes: e.JOB_WORKER_MEMORY_SIZE ? e.JOB_WORKER_MEMORY_SIZE * 1024 * 1024 : lambdaMemoryBytes,
    jobWorkerTimeoutMs: e.JOB_WORKER_TIMEOUT_SECONDS * 1000,
    jobWorkerMaxEventAgeMs: e.JOB_WORKER_MAX_EVENT_AGE_SECONDS * 1000,
    jobHeartbeatMs: e.JOB_HEARTBEAT_MS,
    // serverless.yml names the worker for every run of the functions, `serverless invoke local` too:
    // there, no Lambda API holds the worker (the AWS one would be called, with a job id only this
    // machine knows), so jobs run in this process, as batch continuations do.
    jobWorkerFunction: (inLambda && e.JOB_WORKER_FUNCTION) || undefined,
    batchStoreUri: e.BATCH_STORE_URI,
    batchMarginMs: e.BATCH_MARGIN_SECONDS * 1000,
    batchShard: {
      shardBytes: e.BATCH_SHARD_BYTES,
      rangeBytes: e.BATCH_RANGE_BYTES,
      maxConcurrency: e.BATCH_MAX_CONCURRENCY,
      stateMachineName: e.BATCH_STATE_MACHINE_NAME,
      stateMachineArn: e.BATCH_STATE_MACHINE_ARN,
      endpoint: e.STEP_FUNCTIONS_ENDPOINT,
    },
    // Under serverless offline (its default lambdaPort), functions are invoked through its local Lambda endpoint.
    lambdaEndpoint: e.LAMBDA_ENDPOINT || (e.IS_OFFLINE ? 'http://127.0.0.1:3002' : undefined),
    inLambda,
    region: e.AWS_REGION ?? 'us-east-1',
    hasAwsCredentials: e.AWS_ACCESS_KEY_ID !== undefined,
    awsCredentials:
      e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, sessionToken: e.AWS_SESSION_TOKEN }
        : undefined,
  };
}
