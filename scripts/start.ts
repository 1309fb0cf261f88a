/**
 * npm start: the whole service on this machine, no AWS account.
 *
 *   1. builds the handler bundles (scripts/build.ts; `--skip-build` serves those already in dist/)
 *   2. starts a local S3 (s3rver) on 127.0.0.1:4569 (LOCAL_S3_PORT), bucket `local-bucket`, files in
 *      .local-s3/ (LOCAL_S3_DIR)
 *   3. starts `serverless offline` (HTTP API on :3000, Lambda API on :3002) as a child process;
 *      extra arguments go to it: `npm start -- --httpPort 4000`
 *   4. turns the local bucket's S3 notifications into function invocations, as the s3 events in
 *      serverless.yml do in AWS: an object created under batch/input/ ending in .csv, .jsonl or
 *      .ndjson invokes tfjs-serving-dev-batchScore, one under imports/ ending in .keras, .h5 or
 *      .zip invokes tfjs-serving-dev-modelImport, asynchronously (InvocationType Event) through
 *      serverless-offline's Lambda API, with the S3 event as payload.
 *
 * Models are served from models/ as before (MODEL_STORE_URI, default file://models); batch files
 * are read from and written to the local bucket. Ctrl-C stops everything.
 *
 * How the local bucket reaches the function: serverless-offline hands a function only the
 * environment declared in serverless.yml plus the caller's AWS_* variables. So the bucket is named
 * by BATCH_STORE_URI (declared for batchScore and modelImport) and its endpoint by AWS_ENDPOINT_URL_S3, the AWS
 * SDK's own per-service endpoint variable (path-style for an IP endpoint); S3_ENDPOINT would not
 * get through. s3rver accepts only the key pair S3RVER/S3RVER, so the child gets those
 * credentials (the model store is a folder: it needs none).
 *
 * A background invocation that fails is logged and the stack keeps running, as in AWS
 * (scripts/local/offlineEnv.ts). The local S3, the event wiring and serverless offline's
 * environment live in scripts/local/ (the tests use them too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { offlineEnv } from './local/offlineEnv.js';
import { wireUploadEvents } from './local/uploadEvents.js';
import { DEFAULT_LOCAL_S3_PORT, localBatchEnv, PortInUseError, startLocalS3 } from './local/s3.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function legacyProviderOn(): boolean {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

function optionValue(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i === -1) return undefined;
  return args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
}

async function main(): Promise<void> {
  // --skip-build: serve the bundles already in dist/ (tests that build once); the rest goes to serverless offline.
  const skipBuild = process.argv.includes('--skip-build');
  const passThrough = process.argv.slice(2).filter((arg) => arg !== '--skip-build');
  const httpPort = Number(optionValue(passThrough, 'httpPort') ?? 3000);
  const lambdaPort = Number(optionValue(passThrough, 'lambdaPort') ?? 3002);
  const s3Port = Number(process.env.LOCAL_S3_PORT ?? DEFAULT_LOCAL_S3_PORT);
  const say = (line: string) => console.log(`[start] ${line}`);

  if (!skipBuild) {
    const { buildHandlers } = await import('./build.js');
    const builds = await buildHandlers({ enforceBudget: false });
    say(`built ${builds.map((b) => b.name).join(', ')} into dist/`);
  }

  if (!legacyProviderOn()) say('warning: run with --openssl-legacy-provider (npm start does) or local S3 listings over 1000 keys fail');
  const s3Dir = process.env.LOCAL_S3_DIR ?? path.join(repoRoot, '.local-s3');
  const s3 = await startLocalS3({ directory: s3Dir, port: s3Port });

  const lambdaEndpoint = `http://127.0.0.1:${lambdaPort}`;
  const env = offlineEnv({ ...process.env, ...localBatchEnv(s3), LAMBDA_ENDPOINT: lambdaEndpoint });
  delete env.AWS_SESSION_TOKEN; // real session credentials would be sent along with s3rver's keys
  delete env.AWS_PROFILE;
  const child: ChildProcess = spawn(path.join(repoRoot, 'node_modules', '.bin', 'serverless'), ['offline', 'start', ...passThrough], {
    cwd: repoRoot,
    env,
    detached: true, // its own process group: stopping it ends everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await s3.stop().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(130));
  process.on('SIGTERM', () => void stop(143));
  child.once('exit', (code) => {
    if (!stopping) say(`serverless offline exited (${code ?? 'signal'})`);
    void stop(code ?? 1);
  });

  let signalReady: () => void;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  let seen = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (seen !== 'ready') {
      seen += chunk.toString();
      if (/Server ready/.test(seen)) {
        seen = 'ready';
        signalReady();
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    if (seen !== 'ready') {
      seen += chunk.toString();
      if (/Server ready/.test(seen)) {
        seen = 'ready';
        signalReady();
      }
    }
  });

  wireUploadEvents(s3.onEvent, {
    lambdaEndpoint,
    ready,
    onInvoke: (key, fn, error) => say(error ? `could not invoke ${fn} for ${key}: ${(error as Error).message}` : `${key} -> ${fn}`),
  });

  await ready;
  const bucketUrl = `${s3.endpoint}/${s3.bucket}`;
  console.log(
    [
      '',
      'Ready:',
      `  HTTP API   http://127.0.0.1:${httpPort}          curl -s 127.0.0.1:${httpPort}/v2/models`,
      `  Lambda API ${lambdaEndpoint}`,
      `  local S3   ${s3.endpoint}          bucket ${s3.bucket} (kept in ${path.relative(repoRoot, s3Dir) || s3Dir}/), keys S3RVER / S3RVER`,
      '',
      'Batch scoring: upload under batch/input/{model}[@alias|:version]/ (.csv, .jsonl, .ndjson), read batch/output/:',
      `  curl -T models/_datasets/iris-test.csv ${bucketUrl}/batch/input/iris/iris-test.csv`,
      `  curl -s ${bucketUrl}/batch/output/iris/iris-test.csv.manifest.json`,
      `  curl -s ${bucketUrl}/batch/output/iris/iris-test.csv.predictions.csv`,
      '',
      'Model import: put a Keras file (.keras, .h5) or a zipped TF.js folder under imports/{model}/, read the outcome next to it:',
      `  curl -T test/fixtures/keras/mlp_relu_diabetes_keras3_1.keras ${bucketUrl}/imports/diabetes/model.keras`,
      `  curl -s ${bucketUrl}/imports/diabetes/model.keras.outcome.json`,
      '',
    ].join('\n'),
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof PortInUseError ? `[start] ${error.message}` : error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
