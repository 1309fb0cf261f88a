/**
 * S3 delivers an event at least once: one upload may start two runs of the batch scoring function
 * at the same time. Here the real handler gets the same S3 event twice at once, on S3 (s3rver
 * behind the proxy that gives it S3's conditional writes), and both runs run out of time, checkpoint
 * and continue themselves, interleaved: continuations go to a real HTTP endpoint playing Lambda's
 * Invoke API, and the test starts them in rounds, both runs' invocations at once. The outputs must
 * be byte for byte those of a single run, published once, with nothing of either run left behind.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { BatchEvent } from '../../lib/batch/handlerCore.js';
import { outputsFor, parseInputKey } from '../../lib/batch/paths.js';
import type { BatchOutcome } from '../../lib/batch/run.js';
import type { BatchManifest } from '../../lib/batch/state.js';
import { listAll, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { serving, type App } from '../helpers/serving.js';

let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;
let lambda: Server;
/** The continuations the function asked Lambda for, not started yet. */
const invoked: BatchEvent[] = [];
let app: App;

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startConditionalS3Proxy(s3.endpoint);
  // Lambda's Invoke API, for InvocationType Event: the event is taken (202) and run when the test says.
  lambda = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      invoked.push(JSON.parse(Buffer.concat(chunks).toString()));
      response.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));
  // The Lambda client takes its credentials from the environment (its default chain), as in AWS.
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'S3RVER');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER');
  app = serving('file://models', {
    S3_ENDPOINT: proxy.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    // A held write must wait, not time out and be sent again.
    S3_SOCKET_TIMEOUT_MS: '30000',
    IS_OFFLINE: 'true',
    LAMBDA_ENDPOINT: `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`,
    BATCH_MAX_ROWS: '8',
    BATCH_MARGIN_SECONDS: '30',
  });
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise<void>((resolve) => lambda?.close(() => resolve()));
  await proxy?.stop();
  await s3?.stop();
});

/** An invocation whose time runs short after `batches` micro-batches: 20 s are left then, under the 30 s margin. */
function invocation(batches: number) {
  let left = batches;
  return { functionName: 'batchScore', getRemainingTimeInMillis: () => (--left > 0 ? 600_000 : 20_000) };
}

function putEvent(key: string): S3Event {
  return { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: s3.bucket }, object: { key } } }] } as unknown as S3Event;
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listAll(store, prefix)) keys.push(object.key);
  return keys.sort();
}

const text = async (key: string) => Buffer.from(await s3.store.get(key)).toString();

it('two runs of one upload at once, both continuing themselves interleaved, publish the outputs of a single run once and leave nothing else', async () => {
  // 46 rows and a bad one: 6 micro-batches of 8 records (the first holds the header). The first
  // run scores 1 + 3 + 2 of them, the second 3 + 3 + 0: both reach the end in the same round.
  const [header, ...rows] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
  const file = `${[header, ...rows.slice(0, 20), 'x,3.0,5.0,2.0,virginica', ...rows.slice(20), ...rows.slice(0, 16)].join('\n')}\n`;
  await s3.store.put('batch/input/iris/single.csv', file);
  await s3.store.put('batch/input/iris/twice.csv', file);
  const [single] = (await app.batchScore(putEvent('batch/input/iris/single.csv'), invocation(1_000))) as BatchOutcome[];
  expect(single.status).toBe('succeeded');

  // The first delivery's run scores one micro-batch and checkpoints; its checkpoint is held on its
  // way until the second delivery's run has scored three and checkpointed, and asked for its continuation.
  let release: () => void = () => undefined;
  let heldFirst: () => void = () => undefined;
  const firstHeld = new Promise<void>((resolve) => {
    heldFirst = resolve;
  });
  proxy.hold(({ method, path }) => {
    if (method !== 'PUT' || !path.endsWith('checkpoint.json')) return undefined;
    proxy.hold(undefined);
    heldFirst();
    return new Promise<void>((resolve) => {
      release = resolve;
    });
  });
  const event = putEvent('batch/input/iris/twice.csv');
  const first = app.batchScore(event, invocation(1)) as Promise<BatchOutcome[]>;
  await firstHeld;
  const outcomes = (await app.batchScore(event, invocation(3))) as BatchOutcome[];
  expect(invoked, JSON.stringify(outcomes)).toHaveLength(1);
  release();
  outcomes.push(...(await first));
  expect(outcomes.map((o) => o.status)).toEqual(['continued', 'continued']);

  // Then every invocation asked for, in rounds: both runs' at once, three micro-batches each.
  const published: string[] = [];
  for (let round = 0; invoked.length > 0 && round < 20; round += 1) {
    const events = invoked.splice(0);
    for (const answers of await Promise.all(events.map((e) => app.batchScore(e, invocation(3))))) outcomes.push(...(answers as BatchOutcome[]));
    const manifest = await s3.store.head('batch/output/iris/twice.csv.manifest.json');
    if (manifest) published.push(await text('batch/output/iris/twice.csv.manifest.json'));
  }
  expect(invoked).toEqual([]);

  // One run published: the other ended without changing what it wrote.
  const statuses = outcomes.map((o) => o.status);
  expect(
    statuses.filter((s) => s === 'succeeded'),
    statuses.join(' '),
  ).toHaveLength(1);
  expect(statuses.filter((s) => s === 'failed')).toEqual([]);
  expect(new Set(published).size).toBe(1);
  const manifest = JSON.parse(published[0]) as BatchManifest;
  expect(manifest).toMatchObject({ status: 'succeeded', rows: single.manifest?.rows, source: { etag: (await s3.store.head('batch/input/iris/twice.csv'))?.etag } });
  expect(manifest.rows).toEqual({ read: 47, scored: 46, failed: 1 });
  expect(manifest.invocations).toBeGreaterThan(1);

  // Byte for byte a single run's outputs, and nothing else of either run.
  expect(await text('batch/output/iris/twice.csv.predictions.csv')).toBe(await text('batch/output/iris/single.csv.predictions.csv'));
  expect(await text('batch/output/iris/twice.csv.errors.jsonl')).toBe(await text('batch/output/iris/single.csv.errors.jsonl'));
  expect(await keysUnder(s3.store, 'batch/output/iris/twice.csv')).toEqual(
    ['errors.jsonl', 'manifest.json', 'predictions.csv'].map((name) => `batch/output/iris/twice.csv.${name}`),
  );

  // The same event again, after: nothing to do, nothing changed.
  const [again] = (await app.batchScore(event, invocation(2))) as BatchOutcome[];
  expect(again.status).toBe('skipped');
  expect(await text('batch/output/iris/twice.csv.manifest.json')).toBe(published[0]);
});

it("a run that finds its file's publication claimed by a live run leaves the outputs to it; a claim whose holder's time is up is taken over", async () => {
  const key = 'batch/input/iris/claimed.csv';
  await s3.store.put(key, await readFile('models/_datasets/iris-test.csv'));
  const outputs = outputsFor(parseInputKey(key));
  const claim = outputs.publication((await s3.store.head(key))?.etag ?? '');
  const claimUntil = (ms: number) => s3.store.put(claim, JSON.stringify({ holder: randomUUID(), until: new Date(Date.now() + ms).toISOString() }));

  await claimUntil(600_000);
  const [lost] = (await app.batchScore(putEvent(key), invocation(1_000))) as BatchOutcome[];
  expect(lost.status).toBe('skipped');
  // Nothing published, and nothing of the run that lost: only the other run's claim.
  expect(await keysUnder(s3.store, 'batch/output/iris/claimed.csv')).toEqual([claim]);

  // The holder died (Lambda ended its invocation): its claim is void once its time is up.
  await claimUntil(-1_000);
  const [won] = (await app.batchScore(putEvent(key), invocation(1_000))) as BatchOutcome[];
  expect(won.manifest).toMatchObject({ status: 'succeeded', rows: { read: 30, scored: 30, failed: 0 } });
  expect(await keysUnder(s3.store, 'batch/output/iris/claimed.csv')).toEqual(
    ['errors.jsonl', 'manifest.json', 'predictions.csv'].map((name) => `batch/output/iris/claimed.csv.${name}`),
  );
});
