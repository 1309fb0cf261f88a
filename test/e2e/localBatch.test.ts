/**
 * The `npm start` upload flows, end to end: a real local S3 (s3rver, started by scripts/start.ts's
 * startLocalS3), the real `serverless offline` serving the built bundles, and s3rver's own event
 * emission wired to batchScore and modelImport through serverless-offline's Lambda API by the same
 * function `npm start` uses (wireUploadEvents). Uploads go through the S3 API; nothing hand-makes
 * an event. The models are a copy of models/ (an import adds a version).
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT_PREFIX } from '../../lib/batch/paths.js';
import type { BatchManifest } from '../../lib/batch/state.js';
import { listAll, openStore, type ObjectStore } from '../../lib/store/index.js';
import { IMPORT_FUNCTION, wireUploadEvents } from '../../scripts/local/uploadEvents.js';
import { LOCAL_S3_CREDENTIALS, localBatchEnv, startLocalS3, type LocalS3 } from '../../scripts/local/s3.js';
import { startOffline, type Offline } from '../helpers/offline.js';

let s3: LocalS3;
let offline: Offline;
let store: ObjectStore;
let directory: string;
let unwire: () => void;
const invoked: string[] = [];
const imported: string[] = [];
let models: string;
const invokeErrors: string[] = [];
let lambdaEndpoint: string;

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'local-s3-'));
  s3 = await startLocalS3({ directory, port: 0 });
  store = openStore(`s3://${s3.bucket}/`, { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: LOCAL_S3_CREDENTIALS });
  models = await mkdtemp(path.join(os.tmpdir(), 'local-models-'));
  await cp('models', models, { recursive: true });
  // INFO: a test reads the function's own log line (a skipped upload).
  offline = await startOffline({ ...localBatchEnv(s3), MODEL_STORE_URI: `file://${models}`, POWERTOOLS_LOG_LEVEL: 'INFO' });
  lambdaEndpoint = /\[http for lambda\] listening on (http:\/\/[\w.:]+)/.exec(offline.output())?.[1] ?? '';
  if (!lambdaEndpoint) throw new Error(`no Lambda API address in the serverless offline output:\n${offline.output()}`);
  unwire = wireUploadEvents(s3.onEvent, {
    lambdaEndpoint,
    onInvoke: (key, fn, error) => {
      if (error) invokeErrors.push(`${key}: ${(error as Error).message}`);
      else (fn === IMPORT_FUNCTION ? imported : invoked).push(key);
    },
  });
}, 120_000);

afterAll(async () => {
  unwire?.();
  await offline?.stop();
  await s3?.stop();
  if (directory) await rm(directory, { recursive: true, force: true });
  if (models) await rm(models, { recursive: true, force: true });
});

const outputKey = (input: string, suffix: string) => `${OUTPUT_PREFIX}${input.slice('batch/input/'.length)}.${suffix}`;
const text = async (key: string) => new TextDecoder().decode(await store.get(key));

/** Finished invocations of batchScore so far (serverless offline prints one line per invocation). */
const finished = () => offline.output().match(/\(λ: batchScore\) RequestId: .* Duration/g)?.length ?? 0;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; invoke errors: ${invokeErrors.join('; ') || 'none'}\n${offline.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Uploads and waits for the manifest batchScore writes last. */
async function upload(key: string, body: string | Uint8Array): Promise<BatchManifest> {
  await store.put(key, body);
  const manifestKey = outputKey(key, 'manifest.json');
  return until(`the manifest of ${key}`, async () => ((await store.head(manifestKey)) ? (JSON.parse(await text(manifestKey)) as BatchManifest) : undefined));
}

describe('npm start batch flow: local S3 upload -> s3rver event -> batchScore under serverless offline', () => {
  it('labels every iris row of a CSV PUT like the banner shows (plain HTTP), and a second upload changes nothing', async () => {
    const key = 'batch/input/iris/iris-test.csv';
    const csv = await readFile('models/_datasets/iris-test.csv');
    // The copy-paste command `npm start` prints is an unsigned `curl -T file url`: the same request.
    const put = await fetch(`${s3.endpoint}/${s3.bucket}/${key}`, { method: 'PUT', body: csv });
    expect(put.status).toBe(200);
    const manifestKey = outputKey(key, 'manifest.json');
    const manifest = await until('the iris manifest', async () => ((await store.head(manifestKey)) ? (JSON.parse(await text(manifestKey)) as BatchManifest) : undefined));
    const species = csv
      .toString()
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(',')[4]);
    expect(manifest).toMatchObject({
      status: 'succeeded',
      model: { name: 'iris', version: 1 },
      source: { key, etag: (await store.head(key))!.etag },
      rows: { read: species.length, scored: species.length, failed: 0 },
      outputs: { predictions: outputKey(key, 'predictions.csv'), errors: outputKey(key, 'errors.jsonl') },
    });
    const predictions = await text(outputKey(key, 'predictions.csv'));
    const lines = predictions.trim().split('\n');
    expect(lines[0]).toBe('sepal_length,sepal_width,petal_length,petal_width,species,label,score');
    // The demo model gets all 30 held-out flowers right (its manifest's test accuracy is 1).
    expect(lines.slice(1).map((line) => line.split(',')[5])).toEqual(species);
    expect(await text(outputKey(key, 'errors.jsonl'))).toBe('');

    // Same bytes again: same ETag, so the function finds the succeeded manifest and does nothing.
    await until('the first invocation to finish', async () => (finished() >= 1 ? true : undefined));
    const before = finished();
    const manifestText = await text(manifestKey);
    await store.put(key, csv);
    await until('the second invocation to finish', async () => (finished() > before ? true : undefined));
    expect(await text(manifestKey)).toBe(manifestText);
    expect(await text(outputKey(key, 'predictions.csv'))).toBe(predictions);
    expect(offline.output()).toMatch(new RegExp(`"batchKey":"${key}","status":"skipped"`));
  });

  it('scores JSON Lines for spam@production under a key with a space', async () => {
    const key = 'batch/input/spam@production/my mails.jsonl';
    const manifest = await upload(
      key,
      '{"text":"Congratulations! You have been selected for a FREE prize. Click here now to claim your cash, limited time offer"}\n' +
        '{"text":"Hi Tom, attached are the notes from the meeting about the kernel build. Can you review the patch before Friday? Thanks"}\n',
    );
    expect(manifest).toMatchObject({ status: 'succeeded', model: { name: 'spam' }, rows: { read: 2, scored: 2, failed: 0 } });
    const answers = (await text(outputKey(key, 'predictions.jsonl')))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(answers.map((a) => [a.line, a.label])).toEqual([
      [1, 'spam'],
      [2, 'ham'],
    ]);
  });

  it('writes an error manifest and no predictions for an unknown model', async () => {
    const key = 'batch/input/no-such-model/rows.csv';
    const manifest = await upload(key, 'a,b\n1,2\n');
    expect(manifest).toMatchObject({ status: 'failed', error: expect.stringMatching(/no model named no-such-model/) });
    expect(await store.head(outputKey(key, 'predictions.csv'))).toBeUndefined();
  });

  it('names the missing feature column of a CSV', async () => {
    const key = 'batch/input/iris/three-columns.csv';
    const manifest = await upload(key, 'sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n');
    expect(manifest.status).toBe('failed');
    expect(manifest.error).toMatch(/lacks column\(s\) petal_width/);
    expect(await store.head(outputKey(key, 'predictions.csv'))).toBeUndefined();
  });

  it('answers an empty file with a manifest of zero rows', async () => {
    const manifest = await upload('batch/input/iris/empty.csv', '');
    expect(manifest).toMatchObject({ status: 'succeeded', rows: { read: 0, scored: 0, failed: 0 } });
  });

  it('refuses a file that is not UTF-8', async () => {
    const key = 'batch/input/iris/latin1.csv';
    const body = Buffer.concat([Buffer.from('sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n'), Buffer.from('5,3,1,0.2 caf\xe9\n', 'latin1')]);
    const manifest = await upload(key, body);
    expect(manifest).toMatchObject({ status: 'failed', error: expect.stringMatching(/not valid UTF-8/) });
    expect(await store.head(outputKey(key, 'predictions.csv'))).toBeUndefined();
  });

  it('invoked batchScore only for uploads its serverless.yml rules match: never for its own outputs or other suffixes', async () => {
    await store.put('batch/input/iris/notes.txt', 'not a data file');
    await store.put('elsewhere/rows.csv', 'a\n1\n');
    // Give s3rver's events for these a moment to be (not) turned into invocations.
    const count = invoked.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(invoked.length).toBe(count);
    expect(invokeErrors).toEqual([]);
    expect(new Set(invoked)).toEqual(
      new Set([
        'batch/input/iris/iris-test.csv',
        'batch/input/spam@production/my mails.jsonl',
        'batch/input/no-such-model/rows.csv',
        'batch/input/iris/three-columns.csv',
        'batch/input/iris/empty.csv',
        'batch/input/iris/latin1.csv',
      ]),
    );
    expect(invoked.filter((k) => k === 'batch/input/iris/iris-test.csv')).toHaveLength(2);
    // Every output object raised an s3rver event too: listing them shows the function wrote under batch/output/ only.
    const keys: string[] = [];
    for await (const object of listAll(store, 'batch/')) keys.push(object.key);
    expect(keys.filter((k) => !k.startsWith('batch/input/') && !k.startsWith(OUTPUT_PREFIX))).toEqual([]);
  });
});

describe('npm start import flow: a Keras file PUT under imports/{model}/ -> modelImport under serverless offline', () => {
  it('becomes a new version that the HTTP API serves, with its outcome next to the file', async () => {
    const key = 'imports/diabetes/model.keras';
    const expected = JSON.parse(await readFile('test/fixtures/keras/reference/mlp_relu_diabetes_keras3_1.expected.json', 'utf8'));
    // As the banner shows it: curl -T file url.
    const put = await fetch(`${s3.endpoint}/${s3.bucket}/${key}`, { method: 'PUT', body: await readFile('test/fixtures/keras/mlp_relu_diabetes_keras3_1.keras') });
    expect(put.status).toBe(200);
    const outcome = await until('the import outcome', async () => ((await store.head(`${key}.outcome.json`)) ? JSON.parse(await text(`${key}.outcome.json`)) : undefined), 90_000);
    expect(outcome).toMatchObject({ status: 'created', model: 'diabetes', version: 1, source: { key } });
    expect(imported).toEqual([key]);
    const metadata = await (await fetch(`${offline.url}/v2/models/diabetes`)).json();
    const answer = await fetch(`${offline.url}/v2/models/diabetes/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: metadata.inputs[0].name, shape: [1, 10], datatype: 'FP32', data: expected.inputs.slice(0, 10) }] }),
    });
    expect(answer.status).toBe(200);
    const [value] = (await answer.json()).outputs[0].data;
    expect(Math.abs(value - expected.outputs[0][0])).toBeLessThanOrEqual(1e-5 * Math.abs(expected.outputs[0][0]));
  });
});

describe('a background invocation that throws, under serverless offline as npm start runs it', () => {
  it('is logged as failed, and the HTTP and Lambda APIs keep serving (serverless offline exited on it)', async () => {
    const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
    const lambda = new LambdaClient({ endpoint: lambdaEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    // A job id in form that names no job: jobWorker throws (an event that names no job is only logged).
    const payload = new TextEncoder().encode(JSON.stringify({ jobId: '00000000-0000-4000-8000-000000000000' }));
    const accepted = await lambda.send(new InvokeCommand({ FunctionName: 'tfjs-serving-dev-jobWorker', InvocationType: 'Event', Payload: payload }));
    expect(accepted.StatusCode).toBe(202);
    await until('the failure in the log', async () => (/Unhandled exception in handler 'jobWorker'/.test(offline.output()) ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500)); // Node ended the process right after the rejection
    expect((await fetch(`${offline.url}/v2/health/live`)).status).toBe(200);
    expect((await lambda.send(new InvokeCommand({ FunctionName: 'tfjs-serving-dev-jobWorker', InvocationType: 'Event', Payload: payload }))).StatusCode).toBe(202);
  });
});
