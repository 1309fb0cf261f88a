/**
 * The design's own path, run locally: `serverless offline` serving predict from an S3 API
 * (s3rver), the weights pulled from it on a cold start, the models pushed there with `modelctl`
 * as a user would. Then the store stops: the loaded model keeps answering past its alias TTL
 * (stale-while-error) and a model never loaded answers 503 with Retry-After.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3 } from '../../scripts/local/s3.js';
import { startOffline, type Offline } from '../helpers/offline.js';
import { call, serving } from '../helpers/serving.js';

const run = promisify(execFile);
const IRIS = { instances: [{ sepal_length: 5.9, sepal_width: 3.0, petal_length: 5.1, petal_width: 1.8 }] };

let s3: LocalS3;
let offline: Offline;
let s3Env: Record<string, string>;

async function http(method: string, route: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${offline.url}${route}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

beforeAll(async () => {
  s3 = await startLocalS3({ directory: await mkdtemp(path.join(os.tmpdir(), 'offline-s3-')), port: 0 });
  s3Env = { S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey };
  for (const name of ['iris', 'spam']) {
    const folder = `models/${name}/versions/1`;
    await run(path.resolve('bin/modelctl.js'), ['--store', `s3://${s3.bucket}/`, 'push', folder, '--name', name, '--meta', `${folder}/manifest.json`, '--alias', 'production'], {
      env: { ...process.env, ...s3Env },
    });
  }
  offline = await startOffline({ ...s3Env, MODEL_STORE_URI: `s3://${s3.bucket}/`, MODEL_ALIAS_TTL_SECONDS: '1', S3_MAX_ATTEMPTS: '2' });
}, 180_000);
afterAll(async () => {
  await offline?.stop();
  await s3?.stop();
});

describe('serverless offline serving from s3rver', () => {
  it('answers predict from the S3 store as from the repo folder, and keeps answering when the store stops', async () => {
    const fromS3 = await http('POST', '/v1/models/iris:predict', IRIS);
    expect(fromS3.status).toBe(200);
    const fromFolder = await call(serving('file://models').predict, 'POST', '/v1/models/iris:predict', IRIS);
    expect(fromS3.body).toEqual(fromFolder.body);

    await s3.stop();
    await new Promise((r) => setTimeout(r, 1500)); // past the 1 s alias TTL
    for (let i = 0; i < 3; i += 1) {
      const stale = await http('POST', '/v1/models/iris:predict', IRIS);
      expect(stale.status).toBe(200);
      expect(stale.body).toEqual(fromS3.body);
    }
    const never = await http('POST', '/v1/models/spam:predict', { instances: ['win a free prize now'] });
    expect(never.status).toBe(503);
    expect(Number(never.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(JSON.stringify(never.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
  }, 60_000);
});
