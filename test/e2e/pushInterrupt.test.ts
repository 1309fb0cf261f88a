/**
 * `modelctl push` stopped mid-upload, as a user stops it (Ctrl-C: SIGINT): it ends by that signal
 * with one line saying that no version was pushed, and what it had written of the version (its
 * claimed number, the shards so far) is gone from the store, so the next push makes version 1.
 * Before, it died silently, leaving a claimed number and shards behind. The store is s3rver behind
 * the test proxy, which holds the second shard's upload until the signal is sent.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore } from '../../lib/store/index.js';
import { listAll } from '../../lib/store/objectStore.js';
import { type ConditionalS3Proxy, startConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { type S3rverHandle, startS3rver } from '../helpers/s3rver.js';
import { writeWideModel } from '../helpers/tinyModels.js';

let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;

/** A layers model whose weights are split into three shards, as tensorflowjs_converter splits large ones. */
async function threeShardModel(): Promise<string> {
  const dir = await writeWideModel(3000);
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  const weights = await readFile(path.join(dir, 'weights.bin'));
  const third = Math.ceil(weights.length / 3);
  const shards = [0, 1, 2].map((i) => `group1-shard${i + 1}of3.bin`);
  for (const [i, shard] of shards.entries()) await writeFile(path.join(dir, shard), weights.subarray(i * third, (i + 1) * third));
  json.weightsManifest[0].paths = shards;
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
  return dir;
}

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startConditionalS3Proxy(s3.endpoint);
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

it('Ctrl-C during the upload: one line, ended by SIGINT, and nothing of the version left in the store', async () => {
  const model = await threeShardModel();
  let reached!: () => void;
  const secondShard = new Promise<void>((resolve) => (reached = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  proxy.hold((request) => {
    if (request.method !== 'PUT' || !request.path.endsWith('group1-shard2of3.bin')) return undefined;
    reached();
    return released;
  });
  const env = {
    ...process.env,
    S3_ENDPOINT: proxy.endpoint,
    AWS_ACCESS_KEY_ID: s3.s3Options.credentials?.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.s3Options.credentials?.secretAccessKey,
  };
  const child = spawn(process.execPath, [path.resolve('bin/modelctl.js'), '--store', `${s3.uri}models`, 'push', model, '--name', 'wide'], { env });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit');
  await secondShard;
  child.kill('SIGINT');
  // The upload under way ends first, then the push removes what it wrote.
  setTimeout(release, 200);
  const [code, signal] = await exited;
  proxy.hold(undefined);
  expect([code, signal]).toEqual([null, 'SIGINT']);
  expect(stderr.trim().split('\n').at(-1)).toBe('modelctl: interrupted (SIGINT): no version was pushed: the files it had written were removed');
  const store = openStore(`${s3.uri}models`, s3.s3Options);
  const left: string[] = [];
  for await (const entry of listAll(store, 'wide/')) left.push(entry.key);
  expect(left).toEqual([]);

  // The number was given back: the next push is version 1.
  const again = spawn(process.execPath, [path.resolve('bin/modelctl.js'), '--store', `${s3.uri}models`, 'push', model, '--name', 'wide'], { env });
  let stdout = '';
  again.stdout.on('data', (chunk) => (stdout += chunk));
  const [againCode] = await once(again, 'exit');
  expect(againCode).toBe(0);
  expect(stdout).toMatch(/^pushed wide:1 /);
}, 120_000);
