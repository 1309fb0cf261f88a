/**
 * A predict answer too large to return is refused before it is built, in a 256 MB function's own
 * process (test/helpers/functionProcess.ts): 256 rows of a model with 20,000 outputs each (a 4 KB
 * request) built a 59 MB TF Serving answer at 352 MB resident before its 413, and OIP's JSON of the
 * same went past V8's heap limit, which ended the process; so did /preprocess of 40 1 x 1 PNGs for a
 * 224 x 224 x 3 model (its answer is the model input, 6 million values).
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { requestsInFunction } from '../helpers/functionProcess.js';
import { tempFolderStore } from '../helpers/stores.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, callHttpApi, type Handler, httpApiEvent, serving } from '../helpers/serving.js';
import { writeImageModel, writeSmallAndWideModel, writeWideModel } from '../helpers/tinyModels.js';
import { writeRepeatModel } from '../helpers/handWrittenGraphs.js';

const MB = 2 ** 20;
type Outcome = { status: number; error?: string; peakBytes: number; tensors: number };

const rows = (n: number) => Array.from({ length: n }, (_, i) => [i, 1, 2, 3]);
const tfServing = (n: number) => ({ path: '/v1/models/wide:predict', body: { instances: rows(n) } });
const oip = (n: number) => ({ path: '/v2/models/wide/infer', body: { inputs: [{ name: 'out_input', datatype: 'FP32', shape: [n, 4], data: rows(n).flat() }] } });

it('256 rows of 20,000 outputs are a 413 naming the rows that fit, under 256 MB; the function answers on, and serves that many', async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeWideModel(20_000), 'wide', {});
  const options = { storeUri: store.uri, env: { PEAK_CHILD_BODY: '0' } };
  const [first, plain, json, after] = await requestsInFunction<Outcome>('predict', [tfServing(1), tfServing(256), oip(256), tfServing(1)], options);
  expect(first.status, first.error).toBe(200);
  for (const refused of [plain, json]) {
    expect(refused.status).toBe(413);
    expect(refused.error).toMatch(
      /^the answer would be at least [\d.]+ MB, over the 6\.0 MB a Lambda function can return: at most \d+ of these 256 instances fit: send \d+ at a time(?! \(or ask for fewer outputs\))/,
    );
  }
  for (const outcome of [first, plain, json, after]) expect(outcome.peakBytes).toBeLessThan(256 * MB);
  expect(after.status, after.error).toBe(200);
  expect(after.tensors).toBe(first.tensors);
  // The count named is served, in both protocols.
  const fit = Number(/at most (\d+) of/.exec(json.error ?? '')?.[1]);
  const served = await requestsInFunction<Outcome>('predict', [tfServing(fit), oip(fit)], options);
  expect(served.map((s) => [s.status, s.error])).toEqual([
    [200, undefined],
    [200, undefined],
  ]);
}, 60_000);

it("a regression's answer to natural instances is counted as its values, as the raw answer is: as many instances fit, within a tenth", async () => {
  // human's selfie mask pushed as a regression: 100 images were refused naming 1 that fit, where 10 did (each value was counted with a label beside it).
  const store = await tempFolderStore();
  const features = ['a', 'b', 'c', 'd'].map((name) => ({ name, mean: 0, std: 1 }));
  await pushModelFolder(store, await writeWideModel(20_000), 'wide', { task: 'regression', transforms: { input: { kind: 'tabular', features } } });
  const natural = { path: '/v1/models/wide:predict', body: { instances: rows(256).map(([a, b, c, d]) => ({ a, b, c, d })) } };
  const [raw, records] = await requestsInFunction<Outcome>('predict', [tfServing(256), natural], { storeUri: store.uri, env: { PEAK_CHILD_BODY: '0' } });
  const fitting = (outcome: Outcome) => Number(/at most (\d+) of these 256 instances fit/.exec(outcome.error ?? '')?.[1]);
  expect([raw.status, records.status]).toEqual([413, 413]);
  expect(fitting(raw)).toBeGreaterThan(1);
  // Each judged from its own first chunk's answer (api/answerAhead.ts), the raw one's text and the
  // natural one's JSON: a count within a tenth of the other's, where counting a label beside each
  // value named 1 for 10.
  expect(Math.abs(fitting(records) - fitting(raw))).toBeLessThanOrEqual(Math.ceil(fitting(raw) / 10));
}, 60_000);

it("a regression's answer to natural instances is bounded by its answer output alone: a wide second output it does not carry refuses nothing", async () => {
  const store = await tempFolderStore();
  const features = ['a', 'b', 'c', 'd'].map((name) => ({ name, mean: 0, std: 1 }));
  await pushModelFolder(store, await writeSmallAndWideModel(20_000), 'two', { task: 'regression', answerOutput: 'small', transforms: { input: { kind: 'tabular', features } } });
  const app = serving(store.uri);
  const answer = await call(app.predict, 'POST', '/v1/models/two:predict', { instances: rows(300).map(([a, b, c, d]) => ({ a, b, c, d })) });
  expect(answer.statusCode, JSON.stringify(answer.body).slice(0, 300)).toBe(200);
  expect(answer.body.predictions).toHaveLength(300);
  expect(answer.body.predictions[0]).toEqual({ value: expect.any(Number) });
}, 60_000);

it("one row's answer too large on TF Serving's :predict, which answers every output, names the route that can ask for fewer", async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeRepeatModel(200_000, 2), 'two', { task: 'regression' });
  const app = serving(store.uri);
  // Values of many digits: each output's JSON is past the limit, and both as binary data too (8.5 MB base64).
  const values = [1.2345678, 2.3456789, 3.4567891, 4.5678912];
  const instance = { instances: [values] };
  // As API Gateway delivers them: a direct invocation's answer is not measured (lib/http/handler.ts).
  const v1 = await callHttpApi(app.predict, 'POST', '/v1/models/two:predict', JSON.stringify({ ...instance, raw: true }));
  expect(v1.statusCode).toBe(413);
  expect(v1.body.error).toMatch(
    /one instance.s answer alone is too large \(its 2 outputs hold 1600000 values, .*\): ask \/v2\/models\/two\/infer for fewer outputs \(its "outputs" field\), or score it with batch scoring/,
  );
  const infer = await callHttpApi(app.predict, 'POST', '/v2/models/two/infer', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: values }] }));
  expect(infer.statusCode).toBe(413);
  expect(infer.body.error).toMatch(/: ask for fewer outputs, or score it with batch scoring/);
  // As said: the route asked for one output answers it.
  const one = await app.predict(
    httpApiEvent(
      'POST',
      '/v2/models/two/infer',
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: values }], outputs: [{ name: 'y', parameters: { binary_data: true } }] }),
    ),
  );
  expect(one.statusCode, String(one.body).slice(0, 300)).toBe(200);
}, 60_000);

it('/preprocess of 40 small PNGs for a 224 x 224 x 3 model is a 413 naming the images that fit, under 256 MB', async () => {
  const store = await tempFolderStore();
  const input = { kind: 'image', width: 224, height: 224, channels: 3 };
  await pushModelFolder(store, await writeImageModel(224, 224, 3), 'photo', { labels: ['a', 'b'], transforms: { input } });
  const photos = (n: number) => ({ path: '/v2/models/photo/preprocess', body: { instances: Array.from({ length: n }, () => b64(pngBytes(1, 1, () => [200, 100, 50, 255]))) } });
  const [refused, after] = await requestsInFunction<Outcome>('predict', [photos(40), photos(1)], { storeUri: store.uri, env: { PEAK_CHILD_BODY: '0' } });
  expect(refused.status).toBe(413);
  expect(refused.error).toMatch(/^the answer would be at least [\d.]+ MB, over the 6\.0 MB a Lambda function can return: at most \d+ of these 40 instances fit/);
  expect(refused.peakBytes).toBeLessThan(256 * MB);
  expect(after.status, after.error).toBe(200);
}, 60_000);

it('/preprocess of one image whose model input is too large as JSON is told to ask for the PNG, which answers', async () => {
  const store = await tempFolderStore();
  const input = { kind: 'image', width: 600, height: 600, channels: 3 };
  await pushModelFolder(store, await writeImageModel(600, 600, 3), 'big', { labels: ['a', 'b'], transforms: { input } });
  const app = serving(store.uri);
  const body = JSON.stringify({ instances: [b64(pngBytes(3, 3, (x, y) => [37 * x + 11, 53 * y + 7, 91, 255]))] });
  const json = await callHttpApi(app.predict as Handler, 'POST', '/v2/models/big/preprocess', body);
  expect(json.statusCode).toBe(413);
  expect(json.body.error).toMatch(/one instance's model input alone is too large as JSON; ask for it as a PNG \(\?format=png\), as the model sees it/);
  expect(json.body.error).not.toMatch(/fewer instances|binary_data_output|batch scoring/);
  const png = await app.predict({ ...httpApiEvent('POST', '/v2/models/big/preprocess', body), rawQueryString: 'format=png', queryStringParameters: { format: 'png' } });
  expect(png.statusCode).toBe(200);
}, 60_000);

it('one instance whose one output is larger than a response is told the form that fits (binary data) or, where none does, batch scoring: not fewer instances or outputs', async () => {
  // efficientpose's 368 x 368 x 16 heatmaps (8.3 MB as float32) were told to send fewer instances and outputs, which could not help.
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeRepeatModel(200_000), 'binary-fits', { task: 'regression' });
  await pushModelFolder(store, await writeRepeatModel(400_000), 'nothing-fits', { task: 'regression' });
  const app = serving(store.uri);
  // Values of many digits: their JSON is about 11 bytes each, their binary form 4.
  const request = (parameters: object = {}) =>
    JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [0.123456789, 0.987654321, 0.314159265, 0.271828182] }], ...parameters });
  const [json, nothing, tfServing] = await Promise.all([
    callHttpApi(app.predict as Handler, 'POST', '/v2/models/binary-fits/infer', request()),
    callHttpApi(app.predict as Handler, 'POST', '/v2/models/nothing-fits/infer', request()),
    callHttpApi(app.predict as Handler, 'POST', '/v1/models/nothing-fits:predict', JSON.stringify({ instances: [[0.123456789, 0.987654321, 0.314159265, 0.271828182]] })),
  ]);
  expect([json.statusCode, nothing.statusCode, tfServing.statusCode]).toEqual([413, 413, 413]);
  expect(json.body.error).toMatch(
    /^the answer would be [\d.]+ MB, over the 6\.0 MB a Lambda function can return: one instance's answer fits as binary data \(OIP's binary_data_output on \/v2\/models\/binary-fits\/infer: 4\.1 MB sent\), or ask for a compressed answer/,
  );
  for (const refused of [nothing, tfServing]) {
    expect(refused.body.error).toMatch(
      /: one instance's answer alone is too large \(its output holds 1600000 values, 6\.1 MB as bytes before any encoding\): score it with batch scoring, whose answers are written to S3 rather than returned/,
    );
  }
  for (const refused of [json, nothing, tfServing]) expect(refused.body.error).not.toMatch(/fewer (instances|outputs)/);
  // The advice holds: the same instance answers as binary data.
  const binary = await (app.predict as Handler)(httpApiEvent('POST', '/v2/models/binary-fits/infer', request({ parameters: { binary_data_output: true } })));
  expect(binary.statusCode).toBe(200);
  expect(binary.headers['content-type']).toBe('application/octet-stream');
}, 60_000);

it('an answer measured over the limit only once built (floats of many digits) is a 413 naming how many instances fit, a count then served', async () => {
  // facemesh's 300 eye crops: its bound ahead (2 bytes a float at least) passed, and the built answer's 413 named no count.
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeRepeatModel(50_000), 'digits-long', { task: 'regression' });
  const app = serving(store.uri);
  const row = [0.123456789, 0.987654321, 0.314159265, 0.271828182];
  const oipRequest = (n: number) => JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [n, 4], data: Array.from({ length: n }, () => row).flat() }] });
  const [infer, tfServing] = await Promise.all([
    callHttpApi(app.predict as Handler, 'POST', '/v2/models/digits-long/infer', oipRequest(4)),
    callHttpApi(app.predict as Handler, 'POST', '/v1/models/digits-long:predict', JSON.stringify({ instances: Array.from({ length: 4 }, () => row) })),
  ]);
  expect([infer.statusCode, tfServing.statusCode]).toEqual([413, 413]);
  // "about": judged from the first row, which ran alone (measured), before the others ran (api/answerAhead.ts).
  const fits = /^the answer would be (?:about )?[\d.]+ MB, over the 6\.0 MB a Lambda function can return: at most (\d+) of these 4 instances fit: send (?:\1|one) at a time/;
  expect(infer.body.error).toMatch(fits);
  expect(infer.body.error).toContain(', or ask for the outputs as binary data (binary_data_output)');
  expect(tfServing.body.error).toMatch(fits);
  expect(tfServing.body.error).not.toContain('binary_data_output');
  const fit = Number(fits.exec(infer.body.error)?.[1]);
  expect((await callHttpApi(app.predict as Handler, 'POST', '/v2/models/digits-long/infer', oipRequest(fit))).statusCode).toBe(200);
}, 60_000);

it('an answer too large is refused after the first chunk of rows, not after them all, and the count it names is served', async () => {
  // esrgan's 200 images (an output of open shape, its size known only once a row has run) ran for
  // seconds before the 413, whose count was then refused again. Here 256 rows run 8 a time.
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeRepeatModel(2_000), 'repeat', { task: 'regression' });
  const app = serving(store.uri, { MAX_BATCH: '8' });
  const body = (n: number) => ({ instances: Array.from({ length: n }, (_, i) => [i + 0.123456789, 0.987654321, 0.314159265, 0.271828182]) });
  // Measured first (its cost per row), so that the profile below is not nested in the measurement's.
  expect((await callHttpApi(app.predict as Handler, 'POST', '/v1/models/repeat:predict', JSON.stringify(body(8)))).statusCode).toBe(200);
  const kernels = async (n: number) => {
    let answer: Awaited<ReturnType<typeof callHttpApi>> | undefined;
    const profile = await tf.profile(async () => {
      answer = await callHttpApi(app.predict as Handler, 'POST', '/v1/models/repeat:predict', JSON.stringify(body(n)));
    });
    return { answer: answer as Awaited<ReturnType<typeof callHttpApi>>, kernels: profile.kernels.length };
  };
  const [one, refused] = [await kernels(8), await kernels(256)];
  expect(one.answer.statusCode).toBe(200);
  expect(refused.answer.statusCode).toBe(413);
  expect(refused.answer.body.error).toMatch(/^the answer would be about [\d.]+ MB, over the 6\.0 MB a Lambda function can return: at most \d+ of these 256 instances fit/);
  // One chunk's calls, where all 32 chunks ran before.
  expect(refused.kernels).toBeLessThanOrEqual(2 * one.kernels);
  const fit = Number(/at most (\d+) of/.exec(refused.answer.body.error)?.[1]);
  expect(fit).toBeGreaterThan(8);
  const served = await callHttpApi(app.predict as Handler, 'POST', '/v1/models/repeat:predict', JSON.stringify(body(fit)));
  expect(served.statusCode, JSON.stringify(served.body).slice(0, 200)).toBe(200);
}, 60_000);

it("a model's first request, its first row run alone, is not refused ahead for an answer that fits", async () => {
  // Judged from that one row, the answer's keys were counted once a row: 128,000 iris rows (5.6 MB) were judged 10.6 MB.
  const app = serving('file://models');
  const body = JSON.stringify({ instances: Array.from({ length: 128_000 }, () => [5.1, 3.5, 1.4, 0.2]) });
  const answer = await app.predict(httpApiEvent('POST', '/v1/models/iris:predict', body));
  expect(answer.statusCode, String(answer.body).slice(0, 300)).toBe(200);
  expect(Buffer.byteLength(answer.body as string)).toBeGreaterThan(5 * MB);
}, 60_000);
