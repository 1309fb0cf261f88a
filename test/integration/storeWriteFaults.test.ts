/**
 * Every write path against a real S3 API (s3rver) whose answers fail once: a 503 SlowDown or a 500
 * InternalError, a connection dropped before the request reaches the store, or one dropped after the
 * write landed, its answer lost (test/helpers/conditionalS3Proxy.ts). The S3 client retries each
 * (lib/store/s3.ts: standard mode, 3 attempts), so each operation must end as if nothing had failed:
 * one version, one evaluation, one step of an alias's history, whole; and a refusal (AccessDenied)
 * must end it with a clear error, nothing half-written visible and no multipart upload left open.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { S3Event } from 'aws-lambda';
import { finish, type BatchOutcome } from '../../lib/batch/run.js';
import { outputsFor, parseInputKey } from '../../lib/batch/paths.js';
import { importObject } from '../../lib/imports/run.js';
import { versionOfJob, writeVersionOfJob } from '../../lib/ops/fineTune/jobVersion.js';
import { pushModelFolder, readModelFolder } from '../../lib/ops/pushFolder.js';
import { localLimits } from '../../lib/runtime/memory.js';
import { keys, listVersions, readAlias, readManifest, setAlias } from '../../lib/registry/index.js';
import { listAll, openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { runModelctl } from '../helpers/modelctl.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { type Answer, call, serving, waitForJob, type App } from '../helpers/serving.js';
import { syncFolder } from '../helpers/stores.js';

let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;
/** Through the proxy, with the client's retries as production sets them. */
let store: ObjectStore;
let app: App;

const FAULTS = {
  'a 503 SlowDown': { status: 503, code: 'SlowDown' },
  'a 500 InternalError': { status: 500, code: 'InternalError' },
  'a connection reset before the store': 'reset',
  'an answer lost after the write landed': 'lost',
} as const;

type Request = { method: string; path: string; query: URLSearchParams };

/** The first request `pick` matches fails; every other one goes through. */
function once(pick: (request: Request) => boolean): (request: Request) => boolean {
  let fired = false;
  return (request) => {
    if (fired || !pick(request)) return false;
    fired = true;
    return true;
  };
}

const writeOf = (pattern: RegExp) => (request: Request) => request.method === 'PUT' && pattern.test(request.path);
const deleteOf = (pattern: RegExp) => (request: Request) => request.method === 'DELETE' && pattern.test(request.path);

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startConditionalS3Proxy(s3.endpoint);
  store = openStore(s3.uri, { ...s3.s3Options, endpoint: proxy.endpoint });
  app = serving(s3.uri, { S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  await syncFolder(store, 'models/iris', 'iris/');
  await store.put('_datasets/iris-test.csv', new Uint8Array(await import('node:fs/promises').then((fs) => fs.readFile('models/_datasets/iris-test.csv'))));
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});
beforeEach(() => proxy.fail(undefined));

async function countUnder(prefix: string): Promise<number> {
  let count = 0;
  for await (const _ of listAll(store, prefix)) count += 1;
  return count;
}

/** Every file the manifest names is stored with the checksum it records. */
async function expectWhole(model: string, version: number): Promise<void> {
  const manifest = await readManifest(store, model, version);
  for (const [file, sha256] of Object.entries(manifest.files)) {
    expect(
      createHash('sha256')
        .update(await store.get(keys.file(model, version, file)))
        .digest('hex'),
      file,
    ).toBe(sha256);
  }
}

describe('modelctl push / createVersion', () => {
  const steps = { 'the claim of model.json': /\/model\.json$/, 'a weight shard': /\.bin$/, 'the manifest': /\/manifest\.json$/ };
  for (const [faultName, fault] of Object.entries(FAULTS)) {
    it.each(Object.entries(steps))(`${faultName} on %s: one new version, whole`, async (_, pattern) => {
      const before = await listVersions(store, 'pushed');
      proxy.fail(once(writeOf(pattern)), fault);
      const manifest = await pushModelFolder(store, 'models/iris/versions/1', 'pushed');
      const after = await listVersions(store, 'pushed');
      expect(after).toEqual([...before, manifest.version]);
      await expectWhole('pushed', manifest.version);
    });
  }

  it("every answer to the manifest's write lost, past the client's retries: the write had landed, so the push is done, one version, whole", async () => {
    // It said the push failed ("socket hang up"), and a push again made a second version.
    const before = await listVersions(store, 'answers-lost').catch(() => []);
    proxy.fail(writeOf(/answers-lost\/versions\/\d+\/manifest\.json$/), 'answer-lost');
    const manifest = await pushModelFolder(store, 'models/iris/versions/1', 'answers-lost');
    proxy.fail(undefined);
    expect(await listVersions(store, 'answers-lost')).toEqual([...before, manifest.version]);
    await expectWhole('answers-lost', manifest.version);
  });

  it('AccessDenied on a shard: the push fails, one line and exit 1 from modelctl, no version', async () => {
    const before = await listVersions(store, 'denied').catch(() => []);
    proxy.fail(writeOf(/\.bin$/), { status: 403, code: 'AccessDenied' });
    const { code, stderr } = await runModelctl(['--store', `${s3.uri}`, 'push', 'models/iris/versions/1', '--name', 'denied'], {
      ...process.env,
      S3_ENDPOINT: proxy.endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
    proxy.fail(undefined);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    // Which write was refused: the call and its object.
    expect(stderr).toMatch(/AccessDenied: .*\(PutObject s3:\/\/[^ ]+\/denied\/versions\/\d+\/[^ ]+\.bin\)$/m);
    expect(await listVersions(store, 'denied').catch(() => [])).toEqual(before);
  });
});

describe('aliases (PUT /v2/models/{m}/aliases/{a}, POST .../rollback, DELETE)', () => {
  let versions: number[];
  beforeAll(async () => {
    versions = [(await pushModelFolder(store, 'models/iris/versions/1', 'aliased')).version, (await pushModelFolder(store, 'models/iris/versions/1', 'aliased')).version];
  });

  it.each(Object.entries(FAULTS))('%s on the alias write: one step of history each way, and one delete', async (_, fault) => {
    await setAlias(store, 'aliased', 'staging', versions[0]);
    proxy.fail(once(writeOf(/\/aliases\/staging\.json$/)), fault);
    const set = await call(app.fineTune, 'PUT', '/v2/models/aliased/aliases/staging', { version: versions[1] });
    expect(set.statusCode).toBe(200);
    const moved = await readAlias(store, 'aliased', 'staging');
    expect(moved?.version).toBe(versions[1]);
    expect(moved?.previous[0]).toBe(versions[0]);

    proxy.fail(once(writeOf(/\/aliases\/staging\.json$/)), fault);
    const back = await call(app.fineTune, 'POST', '/v2/models/aliased/aliases/staging/rollback');
    expect(back.statusCode).toBe(200);
    const rolled = await readAlias(store, 'aliased', 'staging');
    expect(rolled?.version).toBe(versions[0]);
    expect(rolled?.previous).toEqual(moved?.previous.slice(1));

    proxy.fail(once(deleteOf(/\/aliases\/staging\.json$/)), fault);
    const removed = await call(app.fineTune, 'DELETE', '/v2/models/aliased/aliases/staging');
    expect(removed).toMatchObject({ statusCode: 200, body: { deleted: true, version: versions[0] } });
    expect(await readAlias(store, 'aliased', 'staging')).toBeUndefined();
  });

  it('a store that stops answering mid-move: 503 with Retry-After before the function times out, and the write that lands later is one step', async () => {
    await setAlias(store, 'aliased', 'slow', versions[0]);
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    proxy.hold(({ method, path }) => (method === 'PUT' && path.endsWith('/aliases/slow.json') ? released : undefined));
    const deadline = Date.now() + 3000; // the function's time: its timeout 3 s from now
    const started = Date.now();
    const answer = (await app.fineTune({ method: 'PUT', path: '/v2/models/aliased/aliases/slow', body: { version: versions[1] } }, {
      getRemainingTimeInMillis: () => deadline - Date.now(),
    } as never)) as Answer;
    const tookMs = Date.now() - started;
    expect(answer).toMatchObject({ statusCode: 503, body: { error: expect.stringContaining('did not finish within the function\u2019s time') } });
    expect(answer.body.error).toContain('what it was writing may still land');
    expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
    expect(tookMs).toBeGreaterThan(1500);
    expect(tookMs).toBeLessThan(3000);
    release();
    proxy.hold(undefined);
    // The write sent before the answer lands; sent again, the PUT changes nothing more.
    await expect.poll(async () => (await readAlias(store, 'aliased', 'slow'))?.version, { timeout: 10_000 }).toBe(versions[1]);
    expect(await call(app.fineTune, 'PUT', '/v2/models/aliased/aliases/slow', { version: versions[1] })).toMatchObject({
      statusCode: 200,
      body: { version: versions[1], previous: [versions[0]] },
    });
  });

  it('modelctl promote and rollback: an answer lost once is one step each; AccessDenied is one line and exit 1', async () => {
    await setAlias(store, 'aliased', 'cli', versions[0]);
    const modelctl = (args: string[]) =>
      runModelctl(['--store', s3.uri, ...args], { ...process.env, S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    proxy.fail(once(writeOf(/\/aliases\/cli\.json$/)), 'lost');
    expect((await modelctl(['promote', 'aliased', String(versions[1]), '--alias', 'cli'])).code).toBe(0);
    expect(await readAlias(store, 'aliased', 'cli')).toMatchObject({ version: versions[1], previous: [versions[0]] });
    proxy.fail(once(writeOf(/\/aliases\/cli\.json$/)), 'lost');
    expect((await modelctl(['rollback', 'aliased', '--alias', 'cli'])).code).toBe(0);
    expect(await readAlias(store, 'aliased', 'cli')).toMatchObject({ version: versions[0], previous: [] });
    proxy.fail(writeOf(/\/aliases\//), { status: 403, code: 'AccessDenied' });
    const denied = await modelctl(['promote', 'aliased', String(versions[1]), '--alias', 'cli']);
    proxy.fail(undefined);
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    expect(denied.stderr).toMatch(/AccessDenied/);
    expect((await readAlias(store, 'aliased', 'cli'))?.version).toBe(versions[0]);
  });

  it.each([
    ['AccessDenied', { status: 403, code: 'AccessDenied' }, 500],
    ['SlowDown past the retries', { status: 503, code: 'SlowDown' }, 503],
  ] as const)('%s on the alias write: %s (Retry-After only for a 503), no internals, the alias unchanged', async (_, fault, status) => {
    await setAlias(store, 'aliased', 'staging', versions[1]);
    await setAlias(store, 'aliased', 'staging', versions[0]); // a step to roll back
    const before = await readAlias(store, 'aliased', 'staging');
    proxy.fail(writeOf(/\/aliases\//), fault);
    const set = await call(app.fineTune, 'PUT', '/v2/models/aliased/aliases/staging', { version: versions[1] });
    const back = await call(app.fineTune, 'POST', '/v2/models/aliased/aliases/staging/rollback');
    proxy.fail((request) => (request.method === 'PUT' || request.method === 'DELETE') && /\/aliases\//.test(request.path), fault);
    const removed = await call(app.fineTune, 'DELETE', '/v2/models/aliased/aliases/staging');
    proxy.fail(undefined);
    for (const answer of [set, back, removed]) {
      expect(answer.statusCode).toBe(status);
      // A refusal stays until the operator acts: no Retry-After for it.
      if (status === 503) expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
      else expect(answer.headers['retry-after']).toBeUndefined();
      expect(answer.body.error).toMatch(status === 503 ? /model store is not available right now; retry later/ : /model store refused access or is misconfigured/);
      expect(JSON.stringify(answer.body)).not.toMatch(/AccessDenied|SlowDown|injected|127\.0\.0\.1|aliases\//);
    }
    expect(await readAlias(store, 'aliased', 'staging')).toEqual(before);
  });
});

describe('saved evaluations and jobs (POST .../evaluations)', () => {
  const body = { dataset: '_datasets/iris-test.csv', labelColumn: 'species', save: true };

  it.each(Object.entries(FAULTS))('%s on the save: 200 and one evaluation saved', async (_, fault) => {
    const prefix = keys.evaluationsPrefix('iris', 1);
    const before = await countUnder(prefix);
    proxy.fail(once(writeOf(/\/evaluations\//)), fault);
    const answer = await call(app.evaluations, 'POST', '/v2/models/iris/versions/1/evaluations', body);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(await countUnder(prefix)).toBe(before + 1);
  });

  it('a save the store keeps refusing: 500 naming a refused store, no Retry-After, nothing saved', async () => {
    const prefix = keys.evaluationsPrefix('iris', 1);
    const before = await countUnder(prefix);
    proxy.fail(writeOf(/\/evaluations\//), { status: 403, code: 'AccessDenied' });
    const answer = await call(app.evaluations, 'POST', '/v2/models/iris/versions/1/evaluations', body);
    proxy.fail(undefined);
    expect(answer.statusCode).toBe(500);
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(answer.body.error).toMatch(/model store refused access or is misconfigured/);
    expect(JSON.stringify(answer.body)).not.toMatch(/AccessDenied|injected|evaluations\//);
    expect(await countUnder(prefix)).toBe(before);
  });

  it.each(Object.entries(FAULTS))('%s on the job record created: 202, and the job runs', async (_, fault) => {
    proxy.fail(once(writeOf(/\/_jobs\//)), fault);
    const answer = await call(app.evaluations, 'POST', '/v2/models/iris/versions/1/evaluations?async=true', body);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(202);
    const job = await waitForJob(app, answer.body.id);
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
  });
});

describe('multipart writes', () => {
  const big = () => Readable.from([Buffer.alloc(6 * 2 ** 20, 'a'), Buffer.alloc(2 ** 20, 'b')]);

  it.each([
    ['a part', (r: Request) => r.method === 'PUT' && r.query.has('uploadId')],
    ['CompleteMultipartUpload', (r: Request) => r.method === 'POST' && r.query.has('uploadId')],
  ])('a 500 once on %s is retried: the object whole', async (_, pick) => {
    proxy.fail(once(pick), { status: 500, code: 'InternalError' });
    await store.putStream('multipart/retried.txt', big());
    expect((await store.head('multipart/retried.txt'))?.size).toBe(7 * 2 ** 20);
    expect(proxy.openUploads()).toEqual([]);
  });

  it('a CompleteMultipartUpload that keeps failing: nothing visible, the upload aborted', async () => {
    proxy.fail((r) => r.method === 'POST' && r.query.has('uploadId'), { status: 500, code: 'InternalError' });
    await expect(store.putStream('multipart/failed.txt', big())).rejects.toThrow();
    proxy.fail(undefined);
    expect(await store.head('multipart/failed.txt')).toBeUndefined();
    expect(proxy.openUploads()).toEqual([]);
  });

  it("a part that keeps failing, then an abort refused: the error is the part's, not the abort's", async () => {
    proxy.fail((r) => r.query.has('uploadId') && (r.method === 'DELETE' ? { status: 403, code: 'AccessDenied' } : r.method === 'PUT'), { status: 500, code: 'InternalError' });
    const failure = await store.putStream('multipart/refused-abort.txt', big()).catch((error: unknown) => error);
    proxy.fail(undefined);
    expect(failure).toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
    expect(await store.head('multipart/refused-abort.txt')).toBeUndefined();
    // The refused abort left the upload open: ended here as the bucket's lifecycle rule would.
    const left = proxy.openUploads();
    expect(left).toHaveLength(1);
    await fetch(`${proxy.endpoint}/multipart?uploadId=${left[0]}`, { method: 'DELETE' });
    expect(proxy.openUploads()).toEqual([]);
  });

  it("a batch join whose part cannot be read aborts the output's upload", async () => {
    const input = parseInputKey('batch/input/iris/joined.csv');
    const outputs = outputsFor(input);
    const parts = { part: (i: number, kind: 'predictions' | 'errors') => `multipart/joined/${i}.${kind}` };
    await store.put(parts.part(0, 'predictions'), Buffer.alloc(6 * 2 ** 20, 'a'));
    await store.put(parts.part(1, 'predictions'), Buffer.alloc(2 ** 20, 'b'));
    proxy.fail((r) => r.method === 'GET' && r.path.endsWith('/1.predictions'), { status: 403, code: 'AccessDenied' });
    const checkpoint = {
      sourceEtag: '"x"',
      model: { name: 'iris', version: 1 },
      offset: 0,
      line: 0,
      parts: 2,
      rows: { read: 0, scored: 0, failed: 0 },
      startedAt: new Date().toISOString(),
      invocations: 1,
    };
    await expect(finish(store, input, outputs, parts, checkpoint)).rejects.toThrow(/injected by the test proxy/);
    proxy.fail(undefined);
    expect(await store.head(outputs.predictions)).toBeUndefined();
    expect(await store.head(outputs.manifest)).toBeUndefined();
    await expect.poll(() => proxy.openUploads(), { timeout: 5000 }).toEqual([]);
  });
});

describe('batch scoring through one function (the S3 trigger)', () => {
  const event = (key: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: s3.bucket }, object: { key } } }] }) as unknown as S3Event;
  const invocation = { functionName: 'batchScore', getRemainingTimeInMillis: () => 600_000 };

  it.each([
    ['503 SlowDown', { status: 503, code: 'SlowDown' }],
    ['a connection reset', 'reset'],
  ] as const)("%s on every write of the run's part: thrown for Lambda to retry, no verdict; the retry scores the file", async (_, fault) => {
    const key = `batch/input/iris/blip-${typeof fault === 'string' ? fault : fault.status}.csv`;
    const outputs = outputsFor(parseInputKey(key));
    await store.put(key, await store.get('_datasets/iris-test.csv'));
    proxy.fail((r) => r.method === 'PUT' && /\.runs\/[^/]+\/\d+\.(predictions|errors)$/.test(r.path), fault);
    await expect(app.batchScore(event(key), invocation)).rejects.toThrow();
    proxy.fail(undefined);
    expect(await store.head(outputs.manifest)).toBeUndefined();
    const [outcome] = (await app.batchScore(event(key), invocation)) as BatchOutcome[];
    expect(outcome.status).toBe('succeeded');
    expect(outcome.manifest?.rows).toEqual({ read: 30, scored: 30, failed: 0 });
  });
});

describe('the import handler (imports/{model}/)', () => {
  const manifestWrite = writeOf(/^\/[^/]+\/imported\/versions\/\d+\/manifest\.json$/);

  it.each(Object.entries(FAULTS))('%s on the manifest: one version, whole, and its outcome', async (name, fault) => {
    const upload = `imports/imported/${name.split(' ')[1]}.keras`;
    await store.put(upload, new Uint8Array(await readFile('test/fixtures/keras/mlp_relu_diabetes_keras3_1.keras')));
    const before = await listVersions(store, 'imported').catch(() => []);
    proxy.fail(once(manifestWrite), fault);
    const outcome = await importObject(store, store, upload, localLimits().budget);
    expect(outcome).toMatchObject({ status: 'created' });
    expect(await listVersions(store, 'imported')).toEqual([...before, outcome?.version]);
    await expectWhole('imported', outcome?.version as number);
  });

  it('AccessDenied on the outcome: the event fails (Lambda retries it), and the retry makes no second version', async () => {
    const other = 'imports/imported/again.keras';
    await store.put(other, new Uint8Array(await readFile('test/fixtures/keras/mlp_relu_diabetes_keras3_1.keras')));
    const before = await listVersions(store, 'imported').catch(() => []);
    proxy.fail(writeOf(/\.outcome\.json$/), { status: 403, code: 'AccessDenied' });
    await expect(importObject(store, store, other, localLimits().budget)).rejects.toThrow(/injected by the test proxy/);
    proxy.fail(undefined);
    const made = await listVersions(store, 'imported');
    expect(made).toHaveLength(before.length + 1);
    const outcome = await importObject(store, store, other, localLimits().budget);
    expect(outcome).toMatchObject({ status: 'created', version: made.at(-1) });
    expect(await listVersions(store, 'imported')).toEqual(made);
  });
});

describe("a fine-tune job's version (writeVersionOfJob)", () => {
  it.each(Object.entries(FAULTS))('%s on the claim and on the manifest: the job has one version, whole, its own', async (_, fault) => {
    const files = await readModelFolder('models/iris/versions/1');
    const parent = await readManifest(store, 'iris', 1);
    const fields = { ...parent, lineage: { ...parent.lineage, parent: 1, jobId: randomUUID() } };
    const jobId = fields.lineage.jobId;
    const before = await listVersions(store, 'iris');
    const claimOnce = once(writeOf(/\/fine-tunes\//));
    const manifestOnce = once(writeOf(/\/iris\/versions\/\d+\/manifest\.json$/));
    proxy.fail((r) => claimOnce(r) || manifestOnce(r), fault);
    const { manifest, mine } = await writeVersionOfJob(store, 'iris', jobId, files, fields);
    expect(mine).toBe(true);
    expect(await listVersions(store, 'iris')).toEqual([...before, manifest.version]);
    await expectWhole('iris', manifest.version);
    expect((await versionOfJob(store, 'iris', jobId, 1))?.version).toBe(manifest.version);
  });

  it('AccessDenied on the claim: the job fails, no version', async () => {
    const files = await readModelFolder('models/iris/versions/1');
    const parent = await readManifest(store, 'iris', 1);
    const jobId = randomUUID();
    const before = await listVersions(store, 'iris');
    proxy.fail(writeOf(/\/fine-tunes\//), { status: 403, code: 'AccessDenied' });
    await expect(writeVersionOfJob(store, 'iris', jobId, files, { ...parent, lineage: { ...parent.lineage, parent: 1, jobId } })).rejects.toThrow(/injected/);
    proxy.fail(undefined);
    expect(await listVersions(store, 'iris')).toEqual(before);
  });
});

describe('server-side joins (S3Store.concat: UploadPartCopy, the sharded join)', () => {
  let copying: ConditionalS3Proxy;
  let joiner: ObjectStore;
  const sources = ['join/0.part', 'join/1.part', 'join/2.part'];
  const bytes = [Buffer.alloc(6 * 2 ** 20, 'a'), Buffer.alloc(2 ** 20, 'b'), Buffer.alloc(5 * 2 ** 20 + 7, 'c')];
  const copyOf = (r: Request) => r.method === 'PUT' && r.query.has('uploadId') && r.path.endsWith('/join/out');
  beforeAll(async () => {
    copying = await startConditionalS3Proxy(s3.endpoint, { uploadPartCopy: true });
    joiner = openStore(s3.uri, { ...s3.s3Options, endpoint: copying.endpoint });
    for (const [i, key] of sources.entries()) await joiner.put(key, bytes[i]);
  });
  afterAll(() => copying?.stop());
  beforeEach(async () => {
    copying.fail(undefined);
    await joiner.delete('join/out');
  });

  it.each(Object.entries(FAULTS))('%s on a part: the join retried, whole', async (_, fault) => {
    copying.fail(once(copyOf), fault);
    await joiner.concat?.(sources, 'join/out');
    expect(Buffer.from(await joiner.get('join/out')).equals(Buffer.concat(bytes))).toBe(true);
    expect(copying.openUploads()).toEqual([]);
  });

  it.each([
    ['AccessDenied on a part copy', copyOf, { status: 403, code: 'AccessDenied' }],
    ['a CompleteMultipartUpload that keeps failing', (r: Request) => r.method === 'POST' && r.query.has('uploadId'), { status: 500, code: 'InternalError' }],
  ] as const)('%s: the join fails, nothing visible, the upload aborted', async (_, pick, fault) => {
    copying.fail(pick, fault);
    await expect(joiner.concat?.(sources, 'join/out')).rejects.toThrow(/injected by the test proxy/);
    copying.fail(undefined);
    expect(await joiner.head('join/out')).toBeUndefined();
    expect(copying.openUploads()).toEqual([]);
  });
});
