/**
 * A small function serves small models: with AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 the memory budget
 * is what 256 MB leaves beside what the process holds (lib/runtime/footprint.ts), where a fixed
 * 384 MB reserve left nothing. Each bundle runs in a process of its own, as in Lambda (Node's heap
 * limit as it is, NODE_OPTIONS and glibc's malloc as serverless.yml sets them), and its peak resident memory (VmHWM)
 * stays under 256 MB up to the largest request it accepts, and over the batch files it scores
 * (test/helpers/batchPeakChild.mjs: the batch bundle on S3 events). A 2048 MB function plans no larger
 * chunks than the fixed reserve let it.
 */
import { execFile } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type { S3Event } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { MemoryBudget } from '../../lib/runtime/memory.js';
import { requestsInFunction, uploadsInFunction } from '../helpers/functionProcess.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, serving } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeConvImageModel, writeImageModel } from '../helpers/tinyModels.js';

const MB = 2 ** 20;
const _run = promisify(execFile);
let storeUri: string;
let digits: unknown[];
/** Enough rows of the convolution model for the old chunk plan to take a fresh 256 MB function past 256 MB (261 to 303 MB in 8 runs). */
const PHOTOS = 200;
let photos: unknown[];
let photoLabels: string[];
/** Rows of a batch file of the convolution model's images: one micro-batch (BATCH_MAX_ROWS, 2048), more rows than fit at once in 256 MB. */
const BATCH_ROWS = 400;
/** The batch files one 256 MB function scores in turn (the same rows): the old code went past 256 MB, or failed a run, in every run of two. */
const SMALL_FILES = ['first', 'second'];
/** Rows of a CSV of 320 x 320 photos in a cell: more record bytes than a 256 MB function's records' share of its budget. */
const CSV_PHOTOS = 150;
/** A painted 320 x 320 PNG, a photo of the 320 x 320 x 3 convolution model. */
const PHOTO_320 = b64(pngBytes(320, 320, (x, y) => [(x * 7 + y * 3) % 256, (y * 5) % 256, (x * 13 + y) % 256, 255]));
/** A 1 x 1 PNG: 0.6 MB of the 224 x 224 x 3 model's input. */
const PIXEL = b64(pngBytes(1, 1, () => [200, 100, 50, 255]));

beforeAll(async () => {
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  const input = { kind: 'image', width: 224, height: 224, channels: 3 };
  await pushModelFolder(store, await writeImageModel(224, 224, 3), 'wide', { labels: ['a', 'b'], transforms: { input } });
  await pushModelFolder(store, await writeConvImageModel(224, 224, 3), 'conv', { labels: ['a', 'b'], transforms: { input } });
  // 1 x 1 PNGs of different colours with labels: a labelled data set of 224 x 224 x 3 images.
  photos = Array.from({ length: PHOTOS }, (_, i) => b64(pngBytes(1, 1, () => [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256, 255])));
  photoLabels = photos.map((_, i) => (i % 3 === 0 ? 'a' : 'b'));
  const lines = photos.map((image, i) => JSON.stringify({ image, label: photoLabels[i] }));
  await writeFile(path.join(fileURLToPath(store.uri), 'photos.jsonl'), `${lines.join('\n')}\n`);
  // 400 images as a batch scoring file, three times: two scored in one 256 MB function, one in a 2048 MB one.
  const rows = Array.from(
    { length: BATCH_ROWS },
    (_, i) => `${JSON.stringify({ image: b64(pngBytes(1, 1, () => [(i * 53) % 256, (i * 37) % 256, (i * 91) % 256, 255])) })}\n`,
  ).join('');
  for (const file of [...SMALL_FILES, 'large']) await store.put(`batch/input/conv/${file}.jsonl`, rows);
  // A CSV of photos in a cell (base64), as a user exports a table: 150 painted PNGs of about 320 x 320, 92 KB each.
  await pushModelFolder(store, await writeConvImageModel(320, 320, 3), 'conv320', { labels: ['a', 'b'], transforms: { input: { ...input, width: 320, height: 320 } } });
  const painted = (i: number) =>
    Buffer.from(pngBytes(320 + (i % 7), 320, (x, y) => [(x * 7 + y * 2240 + i) % 256, (y * 5 + i * 3) % 256, (x * 13 + y * 4160 + i * 11) % 256, 255])).toString('base64');
  await store.put('batch/input/conv320/photos.csv', `id,image\n${Array.from({ length: CSV_PHOTOS }, (_, i) => `${i},${painted(i)}\n`).join('')}`);
  storeUri = store.uri;
  digits = (await readFile('models/_datasets/digits-test.jsonl', 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).image);
});

type Outcome = { status: number; error?: string; peakBytes: number; body?: { predictions: unknown[]; metrics?: Record<string, number> } };
/** A batch run's outcome in such a process. */
type Upload = { status: string; rows: { read: number; scored: number; failed: number }; peakBytes: number };

/** The answers of dist/<fn>/index.js, run in a 256 MB function's process, to these requests in turn (with `bodies`, a 200's body too). */
function in256(fn: string, requests: { path: string; body: unknown }[], bodies = false): Promise<Outcome[]> {
  return requestsInFunction<Outcome>(fn, requests, { storeUri, env: { PEAK_CHILD_BODY: bodies ? '1' : '0' } });
}

const widePredict = (n: number) => ({ path: '/v1/models/wide:predict', body: { instances: new Array(n).fill(PIXEL) } });
/** The number of instances a 413 said fit. */
const promised = (refused: Outcome) => Number(/at most (\d+) instances fit/.exec(refused.error ?? '')?.[1]);

describe('a 256 MB function', () => {
  it('predicts on iris and on 5,000 digits; refuses with figures what does not fit, and serves what it said fits, under 256 MB', async () => {
    const [iris, manyDigits, refused] = await in256('predict', [
      { path: '/v1/models/iris:predict', body: { instances: [[5.1, 3.5, 1.4, 0.2]] } },
      { path: '/v1/models/digits:predict', body: { instances: Array.from({ length: 5000 }, (_, i) => digits[i % digits.length]) } },
      widePredict(200),
    ]);
    expect(iris.status, iris.error).toBe(200);
    expect(manyDigits.status, manyDigits.error).toBe(200);
    expect(refused.status).toBe(413);
    expect(refused.error).toMatch(
      /^instances: 200 instances make 114\.8 MB of model input \(0\.6 MB each, shape \[224,224,3\]\), and running the model on them [\d.]+ MB more \([\d.]+ MB for a call, 1 KB per instance\); this function can give \d+ MB \(a 256 MB function, less \d+ MB for Node and the request \(\d+ MB resident outside tensors, a 64 MB margin\) .*\): at most \d+ instances fit at once$/,
    );
    const [largest] = await in256('predict', [widePredict(promised(refused))]);
    expect(largest.status, largest.error).toBe(200);
    for (const outcome of [iris, manyDigits, refused, largest]) expect(outcome.peakBytes).toBeLessThan(256 * MB);
  }, 60_000);

  it('serves the number of instances its 413 named for a model whose forward pass holds more than their rows, fresh and then warm, with the answers of smaller requests; far more is still refused before decoding', async () => {
    // 1 x 1 PNGs of different colours: each becomes 0.6 MB of model input, its own prediction.
    const photos = Array.from({ length: 400 }, (_, i) => b64(pngBytes(1, 1, () => [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256, 255])));
    const convPredict = (instances: unknown[]) => ({ path: '/v1/models/conv:predict', body: { instances } });
    const [refused] = await in256('predict', [convPredict(photos)]);
    expect(refused.status, refused.error).toBe(413);
    const fit = promised(refused);
    expect(fit, refused.error).toBeGreaterThan(80);
    // Counted without the forward pass after them, the rows the old code said fit filled the budget
    // once encoded: "one row of a forward pass through conv:1 may need up to 15 MB (an estimate from
    // its layers: not yet measured); this function can give 11 MB".
    // A promise to the function from then on: three times in one process, fresh and then warm. Named
    // without the memory a fresh function still grows by (runtime/footprint.ts, warmUpAhead), and
    // planned warm as if the heap's free room were in pieces (roomAPassMayLose: it is one stretch
    // between requests), the count was served once and then refused ("this function can give 102
    // MB ... at most 95").
    const served = await in256(
      'predict',
      Array.from({ length: 3 }, () => convPredict(photos.slice(0, fit))),
      true,
    );
    expect(served.map((s) => [s.status, s.error])).toEqual(served.map(() => [200, undefined]));
    for (const s of served) expect(s.peakBytes).toBeLessThan(256 * MB);
    // The same rows in requests of 50, in one process: the same answers, row for row.
    const parts = await in256(
      'predict',
      Array.from({ length: Math.ceil(fit / 50) }, (_, k) => convPredict(photos.slice(50 * k, Math.min(fit, 50 * (k + 1))))),
      true,
    );
    expect(parts.map((p) => p.status)).toEqual(parts.map(() => 200));
    for (const s of served) expect(s.body?.predictions).toEqual(parts.flatMap((p) => p.body?.predictions));
    // Still a bound: 40 MB of rows past it (the 8 MB the promise keeps for a fresh measure, the 16 MB for the warm-up, and as much again) is refused before anything is decoded.
    const over = fit + Math.ceil((40 * MB) / (224 * 224 * 3 * 4));
    const [refusedAgain] = await in256('predict', [convPredict(photos.slice(0, over))]);
    expect(refusedAgain.error).toMatch(new RegExp(`^instances: ${over} instances make .*: at most \\d+ instances fit at once$`));
  }, 60_000);

  it('runs a convolution model on 16 and on 30 images in calls sized by what its kernels hold inside themselves, under 256 MB', async () => {
    // Sized by the tensors alive between kernels, a call held twice what its rows were measured at
    // (the global average pool's Mean transposes the convolution output inside itself): each of
    // these took a fresh 256 MB function to 265 to 270 MB.
    for (const count of [16, 30]) {
      const [outcome] = await in256('predict', [{ path: '/v1/models/conv:predict', body: { instances: photos.slice(0, count) } }]);
      expect([outcome.status, outcome.error]).toEqual([200, undefined]);
      expect(outcome.peakBytes, `${count} images`).toBeLessThan(256 * MB);
    }
  }, 60_000);

  it('refuses a 2048 x 2048 photo before decoding it (a 413 naming it and the figures), and answers it scaled to the size it names, under 256 MB', async () => {
    const paint = (x: number, y: number): [number, number, number, number] => [x & 255, y & 255, (x + y) & 255, 255];
    const photo = (side: number) => ({ path: '/v1/models/wide:predict', body: { instances: [b64(pngBytes(side, side, paint))] } });
    const [refused] = await in256('predict', [photo(2048)]);
    expect(refused.status, refused.error).toBe(413);
    const figures =
      /^instances\[0\]: image is 2048x2048; decoding it and fitting it to the model's 224x224 \(fit stretch\) takes \d+\.\d MB at its peak; this function can give \d+ MB \(a 256 MB function, .*\): scaled down to (\d+)x\1 it fits now; a function of at least \d+ MB \(serverless.yml's memorySize; AWS_LAMBDA_FUNCTION_MEMORY_SIZE outside Lambda\) would take it$/.exec(
        refused.error ?? '',
      );
    expect(figures, refused.error).not.toBeNull();
    // The size named is a promise to a fresh function (it keeps the margin a count of instances keeps): served exactly.
    const [scaled] = await in256('predict', [photo(Number(figures?.[1]))]);
    expect(scaled.status, scaled.error).toBe(200);
    for (const outcome of [refused, scaled]) expect(outcome.peakBytes).toBeLessThan(256 * MB);
  }, 60_000);

  it('takes four large photos in one request when each fits alone: what decoding one freed is collected before the next is refused', async () => {
    const paint = (x: number, y: number): [number, number, number, number] => [x & 255, y & 255, (x + y) & 255, 255];
    const photos = (side: number, count: number) => ({
      path: '/v1/models/wide:predict',
      body: { instances: Array.from({ length: count }, () => b64(pngBytes(side, side, paint))) },
    });
    const [refused] = await in256('predict', [photos(2048, 1)]);
    const fits = Number(/scaled down to (\d+)x\1 it fits now/.exec(refused.error ?? '')?.[1]);
    expect(fits, refused.error).toBeGreaterThan(0);
    // The old code measured an earlier photo's freed buffers (20 to 30 MB) against the next one:
    // "instances[1]: ... takes 68.3 MB at its peak; this function can give 66 MB".
    const [four] = await in256('predict', [photos(Math.floor(fits * 0.85), 4)]);
    expect([four.status, four.error]).toEqual([200, undefined]);
    expect(four.peakBytes).toBeLessThan(256 * MB);
  }, 60_000);

  it('answers the same large request four times in a row: the garbage of the ones before is collected before it is planned (the fourth was a 413)', async () => {
    const request = { path: '/v1/models/digits:predict', body: { instances: Array.from({ length: 6000 }, (_, i) => digits[i % digits.length]) } };
    const outcomes = await in256('predict', [request, request, request, request]);
    expect(outcomes.map((o) => [o.status, o.error])).toEqual(Array.from({ length: 4 }, () => [200, undefined]));
    for (const outcome of outcomes) expect(outcome.peakBytes).toBeLessThan(256 * MB);
  }, 60_000);

  it('a request refused for memory part way, or its largest promise, does not leave the function refusing every later request', async () => {
    const [refused] = await in256('predict', [widePredict(200)]);
    const fit = promised(refused);
    expect(fit, refused.error).toBeGreaterThan(0);
    // The refusal, the whole promise, then small requests: the old code refused every one of them
    // ("not even one fits"), and later the first of them about 1 run in 7, measured before what
    // the large request freed had left RSS; now a refusal for memory is decided after a
    // collection whose freed buffers are gone (runtime/footprint.ts), and every one is served.
    const outcomes = await in256('predict', [widePredict(200), widePredict(fit), widePredict(1), widePredict(1), widePredict(1)]);
    expect(outcomes.slice(1).map((o) => [o.status, o.error])).toEqual([
      [200, undefined],
      [200, undefined],
      [200, undefined],
      [200, undefined],
    ]);
    for (const outcome of outcomes) expect(outcome.peakBytes).toBeLessThan(256 * MB);
  }, 60_000);

  it('evaluates the iris and digits data sets under 256 MB', async () => {
    const outcomes = await in256('evaluate', [
      { path: '/v2/models/iris/evaluate', body: { dataset: '_datasets/iris-test.csv', labelColumn: 'species' } },
      { path: '/v2/models/digits/evaluate', body: { dataset: '_datasets/digits-test.jsonl' } },
    ]);
    expect(outcomes.map((o) => [o.status, o.error])).toEqual([
      [200, undefined],
      [200, undefined],
    ]);
    for (const outcome of outcomes) expect(outcome.peakBytes).toBeLessThan(256 * MB);
  }, 60_000);

  it('evaluates a convolution model on images, inline and as a data set, in chunks under 256 MB, with the metrics of a 2048 MB function', async () => {
    const inline = { path: '/v2/models/conv/evaluate', body: { instances: photos, labels: photoLabels } };
    const dataset = { path: '/v2/models/conv/evaluate', body: { dataset: 'photos.jsonl' } };
    // Chunks planned with one row's pass held 77 MB of encoded rows beside a wasm heap grown by
    // calls of changing sizes: the old code peaked at 261 to 303 MB on the inline request, and
    // refused the data set's first chunk part way ("135 instances make 77.5 MB ... at most 119 fit").
    const small = await in256('evaluate', [inline, dataset], true);
    expect(small.map((o) => [o.status, o.error])).toEqual([
      [200, undefined],
      [200, undefined],
    ]);
    for (const outcome of small) expect(outcome.peakBytes).toBeLessThan(256 * MB);
    // The same evaluations in a 2048 MB function (this process), its rows in chunks of MAX_BATCH.
    const large = serving(storeUri);
    await large.services.loader.withModel({ name: 'conv' }, async () => {});
    const tensors = tf.memory().numTensors;
    for (const [i, request] of [inline, dataset].entries()) {
      const answer = await call(large.evaluate, 'POST', request.path, request.body);
      expect(answer.statusCode, JSON.stringify(answer.body).slice(0, 300)).toBe(200);
      expect(answer.body.count).toBe(PHOTOS);
      expect(small[i].body?.metrics).toEqual(answer.body.metrics);
    }
    expect(tf.memory().numTensors).toBe(tensors);
  }, 60_000);

  it('scores batch files of images for a convolution model in chunks under 256 MB, with the outputs of a 2048 MB function', async () => {
    // Rows planned as a predict request is (as many as fit beside one row's pass) were 134 images a
    // chunk, their pass run a few at a time beside a wasm heap its calls had grown. Scoring these
    // two files in one process, the old code went past 256 MB (to 279-289 MB), or failed a run on
    // its first chunk, measured again once encoded ("134 instances make 76.9 MB ... at most 119
    // instances fit at once"), in each of 12 runs of 200 and 400 rows.
    const small = await uploadsInFunction<Upload>(
      SMALL_FILES.map((file) => `batch/input/conv/${file}.jsonl`),
      { storeUri },
    );
    const large = serving(storeUri);
    const { store } = large.services;
    const read = async (key: string) => Buffer.from(await store.get(key)).toString('utf8');
    const errors = await Promise.all(SMALL_FILES.map(async (file) => JSON.parse(await read(`batch/output/conv/${file}.jsonl.manifest.json`)).error));
    expect(small.map((outcome, i) => [outcome.status, outcome.rows, errors[i]])).toEqual(
      SMALL_FILES.map(() => ['succeeded', { read: BATCH_ROWS, scored: BATCH_ROWS, failed: 0 }, undefined]),
    );
    for (const outcome of small) expect(outcome.peakBytes).toBeLessThan(256 * MB);
    // The same rows scored in a 2048 MB function (this process), in chunks the memory budget sizes.
    const event = { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'batch/input/conv/large.jsonl' } } }] } as unknown as S3Event;
    await large.services.loader.withModel({ name: 'conv' }, async () => {});
    const tensors = tf.memory().numTensors;
    const [outcome] = (await large.batchScore(event)) as { status: string }[];
    expect(outcome.status).toBe('succeeded');
    expect(tf.memory().numTensors).toBe(tensors);
    for (const output of ['predictions.jsonl', 'errors.jsonl']) {
      const inLarge = await read(`batch/output/conv/large.jsonl.${output}`);
      if (output === 'predictions.jsonl') expect(inLarge.trim().split('\n')).toHaveLength(BATCH_ROWS);
      for (const file of SMALL_FILES) expect(await read(`batch/output/conv/${file}.jsonl.${output}`), `${file}: ${output}`).toBe(inLarge);
    }
  }, 60_000);

  it('scores a CSV of photos in a cell (base64, 120 KB each) under 256 MB, every row', async () => {
    // The records of a batch took half of the budget, leaving less than one row's pass (a 413, "no
    // request fits", for the whole file), and each record held a copy of the batch's text before it
    // (150 records of 120 KB held 1.4 GB).
    const [outcome] = await uploadsInFunction<Upload>(['batch/input/conv320/photos.csv'], { storeUri });
    const manifest = JSON.parse(Buffer.from(await serving(storeUri).services.store.get('batch/output/conv320/photos.csv.manifest.json')).toString('utf8'));
    expect([outcome?.status, outcome?.rows, manifest.error], manifest.error).toEqual(['succeeded', { read: CSV_PHOTOS, scored: CSV_PHOTOS, failed: 0 }, undefined]);
    expect(outcome.peakBytes).toBeLessThan(256 * MB);
  }, 60_000);

  it('explains with gradients what its 413 names: a function size that serves one instance of a model whose gradient pass its layers under-estimate', async () => {
    // The 320 x 320 convolution under a global average pool: its gradient pass measures 7.2 times
    // its summed activations, estimated at 5. Counted on the estimate, the 413 named 2 instances,
    // and 2 were refused ("one row of a forward and backward pass ... needs 90 MB; this function can give 89 MB").
    const explain = (count: number) => ({ path: '/v2/models/conv320/explain', body: { method: 'integratedGradients', instances: new Array(count).fill(PHOTO_320) } });
    const [refused] = await in256('explain', [explain(32)]);
    const named = /not even one fits; a function of at least (\d+) MB \(serverless.yml's memorySize; AWS_LAMBDA_FUNCTION_MEMORY_SIZE outside Lambda\) would take one$/.exec(
      refused.error ?? '',
    );
    expect([refused.status, named !== null], refused.error).toEqual([413, true]);
    const megabytes = Number(named?.[1]);
    const [served] = await requestsInFunction<Outcome>('explain', [explain(1)], { storeUri, megabytes });
    expect([served.status, served.error]).toEqual([200, undefined]);
    expect(served.peakBytes).toBeLessThan(megabytes * MB);
  }, 60_000);

  it("names, for more explanations than fit, the count both its memory and the answer's size allow, and serves it", async () => {
    // Counted by memory alone, the 413 named 11 instances of the 224 x 224 convolution model, and
    // those 11 were refused for their answer ("at most 5 of these 11 instances fit").
    const explain = (count: number) => ({ path: '/v2/models/conv/explain', body: { method: 'integratedGradients', instances: photos.slice(0, count) } });
    const [refused] = await in256('explain', [explain(32)]);
    const named =
      /^instances: 32 instances make .*: at most (\d+) instances fit at once; and of those, the answer would be up to [\d.]+ MB, over the 6\.0 MB a Lambda function can return: at most (\d+) of these \1 instances fit: send (?:\2|one) at a time/.exec(
        refused.error ?? '',
      );
    expect(named, refused.error).not.toBeNull();
    const [served] = await in256('explain', [explain(Number(named?.[2]))]);
    expect([served.status, served.error]).toEqual([200, undefined]);
    expect(served.peakBytes).toBeLessThan(256 * MB);
  }, 60_000);

  it('explains again once warm within the memory a fresh explanation takes: the heap that one grew is counted against the room it leaves', async () => {
    // The wasm heap an explanation grows stays when it ends, past the room the warm function has for
    // tensors (runtime/memory.ts, overheld). Counted only as free room, the same five explanations,
    // served again warm, took the function from 229 to 242-246 MiB. Now the warm ones peak where a
    // fresh one may: in 6 runs of this test the first peaked at 215-227 MiB (two levels: a fresh
    // process's first explanation peaks lower in about one run of three) and the warm ones at most
    // at 227.4. So the bound is between the two, not the first's peak plus a margin: against a first
    // at 215, warm peaks of 223 to 226 (the level the other runs' first reached) failed that.
    const explain = { path: '/v2/models/conv/explain', body: { method: 'integratedGradients', instances: photos.slice(0, 5) } };
    const outcomes = await in256('explain', [explain, explain, explain, explain]);
    expect([outcomes[0].status, outcomes[0].error]).toEqual([200, undefined]);
    for (const o of outcomes.slice(1)) expect(o.status === 200 || (o.status === 413 && /this function can give/.test(o.error ?? '')), o.error).toBe(true);
    expect(Math.max(...outcomes.map((o) => o.peakBytes))).toBeLessThanOrEqual(236 * MB);
    // Four explanations served take about 45 s here alone (the warm ones were refused half the time
    // before roomAPassMayLose stopped counting touched heap as lost: 23 s): room for a loaded machine.
  }, 150_000);
});

it('a 2048 MB function (and a larger one) plans no more than the fixed 384 MB reserve let it', () => {
  const tensors = tf.memory().numBytes;
  expect(new MemoryBudget({ functionBytes: 2048 * MB }).available()).toBeLessThanOrEqual((2048 * MB - 384 * MB - tensors) * 0.85);
  expect(new MemoryBudget({ functionBytes: 10240 * MB }).available()).toBeLessThanOrEqual((2 * 2 ** 30 - tensors) * 0.85);
});
