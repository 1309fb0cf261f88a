/**
 * A bundled handler run in a process of its own, as a Lambda of `megabytes` runs it (the functions'
 * node and malloc settings, FUNCTION_PROCESS_ENV, and the heap flags Lambda's runtime gives node,
 * lambdaNodeFlags), on a folder store: the memory tests read its
 * peak resident memory from what the child prints (peakRssChild.mjs for HTTP requests,
 * batchPeakChild.mjs for S3 events), a JSON line per request or event.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FUNCTION_PROCESS_ENV, lambdaNodeFlags } from '../../lib/runtime/processEnv.js';

const run = promisify(execFile);

export interface FunctionProcess {
  storeUri: string;
  /** AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 256). */
  megabytes?: number;
  /** More variables for the child (PEAK_CHILD_BODY, PEAK_CHILD_ACCEPT_ENCODING, PEAK_CHILD_TIMEOUT_MS). */
  env?: Record<string, string>;
}

/** The JSON lines `child` prints, run with `args` as such a function. */
async function childLines<T>(child: string, args: string[], { storeUri, megabytes = 256, env = {} }: FunctionProcess): Promise<T[]> {
  const childEnv = { ...process.env, ...FUNCTION_PROCESS_ENV, MODEL_STORE_URI: storeUri, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(megabytes), ...env };
  const { stdout } = await run(process.execPath, [...lambdaNodeFlags(megabytes), child, ...args], { env: childEnv, maxBuffer: 64 * 2 ** 20 });
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{"status"'))
    .map((line) => JSON.parse(line) as T);
}

/** The answers of the bundled HTTP handler `fn` (dist/<fn>/index.js) to these requests in turn, each with the process's peak RSS so far. */
export async function requestsInFunction<T>(fn: string, requests: { path: string; body: unknown; headers?: Record<string, string> }[], options: FunctionProcess): Promise<T[]> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'peak-')), 'requests.json');
  // Bytes (an OIP binary body) go as API Gateway sends them, base64; anything else as JSON.
  const sent = (body: unknown) => (body instanceof Uint8Array ? { body: Buffer.from(body).toString('base64'), isBase64Encoded: true } : { body: JSON.stringify(body) });
  await writeFile(file, JSON.stringify(requests.map((r) => ({ path: r.path, headers: r.headers, ...sent(r.body) }))));
  return childLines<T>('test/helpers/peakRssChild.mjs', [`dist/${fn}/index.js`, file], options);
}

/** The outcomes of the bundled batch scoring handler on an upload of each key in turn, each with the process's peak RSS so far. */
export function uploadsInFunction<T>(keys: string[], options: FunctionProcess): Promise<T[]> {
  return childLines<T>('test/helpers/batchPeakChild.mjs', ['dist/batchScore/index.js', ...keys], options);
}
