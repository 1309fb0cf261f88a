/**
 * A store that refuses for good (access denied, a bucket that is not there, a folder path through a
 * file) is not a blink: a retry gets the same answer until the operator acts. Such reads answer 500
 * naming a refused or misconfigured store, without Retry-After and without the store's code or key;
 * a model already loaded keeps being served stale meanwhile. Real s3rver (behind the test proxy
 * that answers 403 AccessDenied) and a real folder.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_REFUSED } from '../../lib/errors.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { setAlias } from '../../lib/registry/index.js';
import type { ObjectStore } from '../../lib/store/index.js';
import type { ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { type ProxiedS3, startProxiedS3 } from '../helpers/proxiedS3.js';
import type { S3rverHandle } from '../helpers/s3rver.js';
import { call, serving, type Answer, type App } from '../helpers/serving.js';

const IRIS = { instances: [[5.1, 3.5, 1.4, 0.2]] };
const SPAM = { instances: ['free prize'] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;
let store: ObjectStore;
let setting: ProxiedS3 | undefined;

const app = (uri = s3.uri): App =>
  serving(uri, { S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', MODEL_ALIAS_TTL_SECONDS: '1', S3_MAX_ATTEMPTS: '2' });

function expectRefused(answer: Answer, what: string): void {
  expect(answer.statusCode, what).toBe(500);
  expect(answer.headers['retry-after'], what).toBeUndefined();
  expect(answer.body.error, what).toBe(STORE_REFUSED);
  expect(JSON.stringify(answer.body), what).not.toMatch(/AccessDenied|NoSuchBucket|ENOTDIR|bucket|127\.0\.0\.1|\/tmp\//);
}

beforeAll(async () => {
  setting = await startProxiedS3(['iris', 'spam']);
  ({ s3, proxy, store } = setting);
});
afterAll(() => setting?.stop());

describe('S3 answers 403 AccessDenied to every call', () => {
  it('a model never loaded, the model list, metadata and job records: 500 naming a refused store, no Retry-After', async () => {
    const served = app();
    proxy.fail(/./, { status: 403, code: 'AccessDenied' });
    try {
      expectRefused(await call(served.predict, 'POST', '/v1/models/spam:predict', SPAM), 'predict');
      for (const route of ['/v2/models', '/v2/models/spam', '/v1/models/spam', '/v2/jobs/0b8a3c1e-5f4d-4e2a-9c6b-7d1e2f3a4b5c']) {
        expectRefused(await call(served.metadata, 'GET', route), route);
      }
    } finally {
      proxy.fail(undefined);
    }
    // Not cached: once access is given back, the same process answers.
    expect((await call(served.predict, 'POST', '/v1/models/spam:predict', SPAM)).statusCode).toBe(200);
  });

  it('a model already loaded keeps answering from memory past the alias TTL', async () => {
    const served = app();
    const before = await call(served.predict, 'POST', '/v1/models/iris:predict', IRIS);
    expect(before.statusCode).toBe(200);
    proxy.fail(/./, { status: 403, code: 'AccessDenied' });
    try {
      await sleep(1200);
      const during = await call(served.predict, 'POST', '/v1/models/iris:predict', IRIS);
      expect(during.statusCode).toBe(200);
      expect(during.body).toEqual(before.body);
    } finally {
      proxy.fail(undefined);
    }
  });

  it('an alias moved to a version the store refuses: the loaded version keeps serving', async () => {
    const served = app();
    const v1 = await call(served.predict, 'POST', '/v1/models/iris:predict', IRIS);
    const { version } = await pushModelFolder(store, 'models/iris/versions/1', 'iris', {});
    await setAlias(store, 'iris', 'production', version);
    proxy.fail(new RegExp(`/iris/versions/${version}/`), { status: 403, code: 'AccessDenied' });
    try {
      await sleep(1200);
      const stale = await call(served.predict, 'POST', '/v1/models/iris:predict', IRIS);
      expect(stale.statusCode).toBe(200);
      expect(stale.body.model_version).toBe(v1.body.model_version);
    } finally {
      proxy.fail(undefined);
      await setAlias(store, 'iris', 'production', 1);
    }
  });
});

it('a bucket that does not exist (s3rver answers NoSuchBucket): 500 naming a refused store, no Retry-After', async () => {
  const served = app('s3://no-such-bucket/');
  expectRefused(await call(served.predict, 'POST', '/v1/models/iris:predict', IRIS), 'predict');
  expectRefused(await call(served.metadata, 'GET', '/v2/models/iris'), 'metadata');
});

it('a folder store whose root is a path through a file (ENOTDIR): 500 naming a refused store, no Retry-After', async () => {
  const parent = await mkdtemp(path.join(tmpdir(), 'refused-'));
  await writeFile(path.join(parent, 'models'), 'not a folder');
  const served = serving(pathToFileURL(path.join(parent, 'models', 'store')).href);
  expectRefused(await call(served.predict, 'POST', '/v1/models/iris:predict', IRIS), 'predict');
  expectRefused(await call(served.metadata, 'GET', '/v2/models/iris'), 'metadata');
});

it('a file where a model folder would be is an object, not a model: 404, as S3 answers a key under it', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'refused-'));
  await cp('models/iris', path.join(root, 'iris'), { recursive: true });
  await writeFile(path.join(root, 'spam'), 'not a folder');
  const served = serving(pathToFileURL(root).href);
  expect((await call(served.predict, 'POST', '/v1/models/iris:predict', IRIS)).statusCode).toBe(200);
  for (const answer of [await call(served.predict, 'POST', '/v1/models/spam:predict', SPAM), await call(served.metadata, 'GET', '/v2/models/spam')]) {
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(404);
    expect(answer.body.error).toMatch(/spam/);
  }
});
