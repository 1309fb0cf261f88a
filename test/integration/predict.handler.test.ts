import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { logger } from '../../lib/observability.js';
import { setAlias } from '../../lib/registry/index.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { writeHalfPlusTwo } from '../helpers/halfPlusTwo.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { call, callHttpApi, httpApiEvent, serving, type App, type Handler } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { expectedProbabilities, writeGraphModel, writeLayersModel } from '../helpers/tinyModels.js';

let app: App;

const FEATURES = ['f1', 'f2', 'f3', 'f4'];
const tabular = { input: { kind: 'tabular' as const, features: FEATURES.map((name) => ({ name, mean: 0, std: 1 })) } };

async function fill(store: ObjectStore): Promise<void> {
  const [half, layers, graph] = await Promise.all([writeHalfPlusTwo(), writeLayersModel(), writeGraphModel()]);
  await pushModelFolder(store, half, 'half', { task: 'regression' });
  await pushModelFolder(store, layers, 'lin', { labels: ['a', 'b', 'c'], transforms: tabular }); // 1
  await pushModelFolder(store, graph, 'lin', { labels: ['a', 'b', 'c'], transforms: tabular }); // 2
  await setAlias(store, 'lin', 'production', 1);
}

let s3: S3rverHandle;
let folderUri: string;
beforeAll(async () => {
  s3 = await startS3rver();
  const folder = await tempFolderStore();
  folderUri = folder.uri;
  await Promise.all([fill(folder), fill(s3.store)]);
});
afterAll(async () => s3?.stop());

const stores: [string, () => void][] = [
  ['folder', () => (app = serving(folderUri))],
  ['s3', () => (app = serving(s3.uri, { S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }))],
];

describe.each(stores)('predict handler on the %s store', (_kind, serve) => {
  beforeAll(serve);

  // The TF Serving REST API document's own example: half_plus_two, row and columnar formats.
  it.each([
    [{ instances: [1.0, 2.0, 5.0] }, { predictions: [2.5, 3.0, 4.5], model_version: '1' }],
    [{ inputs: [1.0, 2.0, 5.0] }, { outputs: [2.5, 3.0, 4.5], model_version: '1' }],
    [
      { signature_name: 'serving_default', instances: [1.0, 2.0, 5.0] },
      { predictions: [2.5, 3.0, 4.5], model_version: '1' },
    ],
  ])('TF Serving %j -> %j', async (request, expected) => {
    const answer = await call(app.predict, 'POST', '/v1/models/half:predict', request);
    expect(answer.body).toEqual(expected);
    expect(answer.statusCode).toBe(200);
  });

  // The TF Serving REST API document's regress example (its half_plus_three is this model plus one):
  // feature dictionaries by input name on a model without an input kind, floats written as the server writes them.
  it('TF Serving :regress {"examples": [{"x": 1.0}, {"x": 2.0}]} -> {"results": [2.5, 3.0]}', async () => {
    const answer = await app.predict(httpApiEvent('POST', '/v1/models/half:regress', JSON.stringify({ examples: [{ x: 1.0 }, { x: 2.0 }] })));
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toBe('{"results":[2.5,3.0]}');
  });

  // An Example's feature is a list: [1.0] is x's one value (x is a scalar a row), as TF's parse_example reads it.
  it('TF Serving :regress on a model without an input kind: a list of one, and unknown or missing inputs named', async () => {
    const lists = await callHttpApi(app.predict, 'POST', '/v1/models/half:regress', JSON.stringify({ examples: [{ x: [1.0] }, { x: 2.0 }] }));
    expect(lists.body).toEqual({ results: [2.5, 3.0] });
    const baseline = tf.memory().numTensors;
    const wrong = await callHttpApi(app.predict, 'POST', '/v1/models/half:regress', JSON.stringify({ examples: [{ x: 1 }, { y: 1.0 }] }));
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body.error).toBe('examples[1]: unknown feature(s) y; missing x (the model takes x)');
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it.each([
    ['flat data', [1, 2, 5]],
    ['nested data', [[1], [2], [5]]],
  ])('OIP v2 infer with %s echoes the id and answers each output', async (_case, data) => {
    const answer = await call(app.predict, 'POST', '/v2/models/half/versions/1/infer', {
      id: '42',
      inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data }],
    });
    expect(answer.body).toEqual({ model_name: 'half', model_version: '1', id: '42', outputs: [{ name: 'y', shape: [3], datatype: 'FP32', data: [2.5, 3, 4.5] }] });
  });

  // KServe's client (InferRequest.to_rest) writes model_name into every body; Triton's examples show model_version beside it.
  it('OIP v2 infer takes the model_name and model_version a client writes beside the path, and refuses ones the path does not name', async () => {
    const x = [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }];
    const kserve = await call(app.predict, 'POST', '/v2/models/half/infer', { id: 'k', model_name: 'half', inputs: x });
    expect(kserve.statusCode).toBe(200);
    expect(kserve.body.outputs[0].data).toEqual([2.5]);
    const versioned = await call(app.predict, 'POST', '/v2/models/half/versions/1/infer', { model_name: 'half', model_version: '1', inputs: x });
    expect(versioned.statusCode).toBe(200);
    const unnamed = await call(app.predict, 'POST', '/v2/models/half/infer', { model_version: '', inputs: x });
    expect(unnamed.statusCode).toBe(200);
    const other = await call(app.predict, 'POST', '/v2/models/half/infer', { model_name: 'lin', inputs: x });
    expect([other.statusCode, other.body.error]).toEqual([400, 'model_name "lin" is not the model the path names ("half"): the path chooses the model']);
    const notInPath = await call(app.predict, 'POST', '/v2/models/half/infer', { model_version: '1', inputs: x });
    expect(notInPath.statusCode).toBe(400);
    expect(notInPath.body.error).toMatch(/^model_version "1": name the version in the path \(\/v2\/models\/half\/versions\/1\/infer\)/);
    const another = await call(app.predict, 'POST', '/v2/models/half/versions/1/infer', { model_version: '2', inputs: x });
    expect([another.statusCode, another.body.error]).toEqual([400, 'model_version "2" is not the version the path names (1)']);
  });

  it('answers natural tabular instances with labels and ranked scores (top_k)', async () => {
    const x = { f1: 5.1, f2: 3.5, f3: 1.4, f4: 0.2 };
    const reference = expectedProbabilities([5.1, 3.5, 1.4, 0.2]);
    const answer = await call(app.predict, 'POST', '/v1/models/lin:predict', { instances: [x], top_k: 2 });
    const best = reference.indexOf(Math.max(...reference));
    expect(answer.body.model_version).toBe('1'); // production
    expect(answer.body.predictions[0].label).toBe(['a', 'b', 'c'][best]);
    expect(answer.body.predictions[0].score).toBeCloseTo(reference[best], 5);
    expect(answer.body.predictions[0].scores).toHaveLength(2);
  });

  it('top_k on raw tensor rows answers ranked labels; with raw: true, or on a regression model, it is a 400 rather than ignored', async () => {
    const x = [5.1, 3.5, 1.4, 0.2];
    const reference = expectedProbabilities(x);
    const ranked = await call(app.predict, 'POST', '/v1/models/lin:predict', { instances: [x], top_k: 2 });
    expect(ranked.statusCode).toBe(200);
    const order = [0, 1, 2].sort((a, b) => reference[b] - reference[a]);
    expect(ranked.body.predictions[0].scores.map((s: { label: string }) => s.label)).toEqual(order.slice(0, 2).map((i) => ['a', 'b', 'c'][i]));
    const before = tf.memory().numTensors;
    const both = await call(app.predict, 'POST', '/v1/models/lin:predict', { instances: [x], top_k: 2, raw: true });
    expect(both.statusCode).toBe(400);
    expect(both.body.error).toBe('top_k ranks the labelled answers; raw: true asks for plain arrays: send one or the other');
    const regression = await call(app.predict, 'POST', '/v1/models/half:predict', { instances: [1.0], top_k: 1 });
    expect(regression.statusCode).toBe(400);
    expect(regression.body.error).toBe("top_k: half is a regression model; top_k ranks a classifier's scores");
    expect(tf.memory().numTensors).toBe(before);
  });

  // TF Serving's row format names a row's tensors by input name, also for a model with a feature transform (the metadata names its input x).
  it('a tabular model takes a raw row named by its input, as the row form names it, and answers it as the bare row', async () => {
    const x = [5.1, 3.5, 1.4, 0.2];
    const bare = await call(app.predict, 'POST', '/v1/models/lin/versions/2:predict', { instances: [x, x] });
    const named = await call(app.predict, 'POST', '/v1/models/lin/versions/2:predict', { instances: [{ x }, { x }] });
    expect(named.statusCode).toBe(200);
    expect(named.body).toEqual(bare.body);
    expectedProbabilities(x).forEach((p, i) => expect(named.body.predictions[0][i]).toBeCloseTo(p, 5));
    const mixed = await call(app.predict, 'POST', '/v1/models/lin/versions/2:predict', { instances: [{ x, f1: 1 }] });
    expect(mixed.statusCode).toBe(400);
  });

  // model.json's signature keys a graph's input by its tensor (x:0), as its outputs (probs:0), which were taken already.
  it("an input named by its tensor (x:0) is that input, on OIP, TF Serving's rows and its columns; named both ways it is a 400", async () => {
    const x = [5.1, 3.5, 1.4, 0.2];
    const bare = await call(app.predict, 'POST', '/v1/models/lin/versions/2:predict', { instances: [x] });
    const row = await call(app.predict, 'POST', '/v1/models/lin/versions/2:predict', { instances: [{ 'x:0': x }] });
    const columns = await call(app.predict, 'POST', '/v1/models/lin/versions/2:predict', { inputs: { 'x:0': [x] } });
    expect([row.statusCode, columns.statusCode]).toEqual([200, 200]);
    expect(row.body).toEqual(bare.body);
    expect(columns.body.outputs).toEqual(bare.body.predictions);
    const oip = (name: string) => ({ name, shape: [1, 4], datatype: 'FP32', data: x });
    const byTensor = await call(app.predict, 'POST', '/v2/models/lin/versions/2/infer', { inputs: [oip('x:0')] });
    const byName = await call(app.predict, 'POST', '/v2/models/lin/versions/2/infer', { inputs: [oip('x')] });
    expect(byTensor.statusCode).toBe(200);
    expect(byTensor.body.outputs).toEqual(byName.body.outputs);
    const twice = await call(app.predict, 'POST', '/v2/models/lin/versions/2/infer', { inputs: [oip('x'), oip('x:0')] });
    expect([twice.statusCode, twice.body.error]).toEqual([400, 'inputs: x:0 and x name the same input, x: send it once']);
    const rowTwice = await call(app.predict, 'POST', '/v1/models/lin/versions/2:predict', { instances: [{ x, 'x:0': x }] });
    expect([rowTwice.statusCode, rowTwice.body.error]).toEqual([400, 'instances[0]: x:0 and x name the same input, x: send it once']);
  });

  it('serves a version, a label, and raw arrays on request', async () => {
    const x = [1, 2, 3, 4];
    const byVersion = await call(app.predict, 'POST', '/v1/models/lin/versions/2:predict', { instances: [x] });
    const byLabel = await call(app.predict, 'POST', '/v1/models/lin/labels/latest:predict', { instances: [Object.fromEntries(FEATURES.map((f, i) => [f, x[i]]))], raw: true });
    expect(byVersion.body.model_version).toBe('2');
    expect(byLabel.body.model_version).toBe('2');
    byVersion.body.predictions[0].forEach((p: number, i: number) => expect(p).toBeCloseTo(expectedProbabilities(x)[i], 5));
    expect(byLabel.body.predictions).toEqual(byVersion.body.predictions);
  });

  it('answers OIP feature columns with the model output and a label output', async () => {
    const answer = await call(app.predict, 'POST', '/v2/models/lin/infer', {
      inputs: FEATURES.map((name, i) => ({ name, shape: [2], datatype: 'FP64', data: [i + 1, 0] })),
      outputs: [{ name: 'label' }],
    });
    expect(answer.body.outputs).toHaveLength(1);
    expect(answer.body.outputs[0]).toMatchObject({ name: 'label', datatype: 'BYTES', shape: [2] });
  });

  it('outputs come back in the order the request lists them (as Triton answers), whichever order the model has', async () => {
    const inputs = FEATURES.map((name, i) => ({ name, shape: [2], datatype: 'FP64', data: [i + 1, 0] }));
    const all = await call(app.predict, 'POST', '/v2/models/lin/infer', { inputs });
    const names: string[] = all.body.outputs.map((o: { name: string }) => o.name);
    expect(names.length).toBeGreaterThan(1);
    const reversed = [...names].reverse();
    const asked = await call(app.predict, 'POST', '/v2/models/lin/infer', { inputs, outputs: reversed.map((name) => ({ name })) });
    expect(asked.body.outputs.map((o: { name: string }) => o.name)).toEqual(reversed);
    expect(asked.body.outputs).toEqual([...all.body.outputs].reverse());
  });

  it('an empty outputs list answers every output, as an absent one does (Triton reads it so)', async () => {
    const inputs = FEATURES.map((name, i) => ({ name, shape: [2], datatype: 'FP64', data: [i + 1, 0] }));
    const all = await call(app.predict, 'POST', '/v2/models/lin/infer', { inputs });
    const empty = await call(app.predict, 'POST', '/v2/models/lin/infer', { inputs, outputs: [] });
    expect(empty.statusCode).toBe(200);
    expect(all.body.outputs.map((o: { name: string }) => o.name)).toEqual(expect.arrayContaining(['label']));
    expect(empty.body.outputs).toEqual(all.body.outputs);
  });
});

describe('predict handler behaviour', () => {
  beforeAll(() => (app = serving(folderUri)));

  it('splits large batches into chunks of MAX_BATCH and merges them in order', async () => {
    const rows = Array.from({ length: 23 }, (_, i) => [i, -i, i / 2, 1]);
    const whole = await call(app.predict, 'POST', '/v1/models/lin:predict', { instances: rows });
    app = serving(folderUri, { MAX_BATCH: '4' });
    const chunked = await call(app.predict, 'POST', '/v1/models/lin:predict', { instances: rows });
    app = serving(folderUri, { MAX_BATCH: '256' });
    expect(chunked.body.predictions).toHaveLength(23);
    expect(chunked.body).toEqual(whole.body);
  });

  it('loads MODEL_PRELOAD models at cold start', async () => {
    const preloading = serving(folderUri, { MODEL_PRELOAD: 'lin@production,half:1' });
    await vi.waitFor(() => expect(preloading.services.loader.cache.keys().sort()).toEqual(['half:1', 'lin:1']));
  });

  it('accepts the API Gateway HTTP API event and answers a JSON string with a request id', async () => {
    const answer = await callHttpApi(app.predict as Handler, 'POST', '/v1/models/half:predict', JSON.stringify({ instances: [1] }));
    expect(answer.body).toEqual({ predictions: [2.5], model_version: '1' });
    expect(answer.headers['x-request-id']).toBe('test-request');
  });

  // tensorflow_model_server writes a float32 output in six digits, or nine when six do not read back
  // (json_tensor.cc WriteDecimal), a whole one with ".0"; labelled answers are ours, written as JSON.stringify writes them.
  it.each([
    [{ instances: [0.1, 2, 1e7] }, '{"predictions":[2.05,3.0,5000002.0],"model_version":"1"}'],
    [{ inputs: [0.1, 2, 1e7] }, '{"outputs":[2.05,3.0,5000002.0],"model_version":"1"}'],
  ])('writes the JSON text of %j as TF Serving writes it', async (request, text) => {
    const answer = await app.predict(httpApiEvent('POST', '/v1/models/half:predict', JSON.stringify(request)));
    expect(answer.body).toBe(text);
  });

  it('logs each request with its own ids only (a direct invocation after an API Gateway one carries no gateway id)', async () => {
    const event = httpApiEvent('GET', '/v2/models/half', undefined, 'gateway-1');
    const lines: string[] = [];
    logger.setLogLevel('INFO');
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await app.metadata(event, { awsRequestId: 'invocation-a' });
      await app.metadata({ method: 'GET', path: '/v2/models/half' }, { awsRequestId: 'invocation-b' });
    } finally {
      spy.mockRestore();
      logger.setLogLevel('SILENT');
    }
    const requests = lines
      .flatMap((line) => line.split('\n'))
      .filter((line) => line.includes('"message":"request"'))
      .map((line) => JSON.parse(line));
    expect(requests.map((r) => [r.requestId, r.gatewayRequestId])).toEqual([
      ['invocation-a', 'gateway-1'],
      ['invocation-b', undefined],
    ]);
  });

  it("answers with the function's invocation id when it has one (what its log lines carry), not API Gateway's", async () => {
    // serverless offline gives every HTTP API request this same id.
    const event = httpApiEvent('GET', '/v2/models/half', undefined, 'offlineContext_resourceId');
    const ids = await Promise.all(['invocation-1', 'invocation-2'].map(async (awsRequestId) => (await app.metadata(event, { awsRequestId })).headers['x-request-id']));
    expect(ids).toEqual(['invocation-1', 'invocation-2']);
  });

  it('accepts the REST API (payload 1.0) event with a base64 body', async () => {
    const result = (await app.predict({
      httpMethod: 'POST',
      path: '/v1/models/half:predict',
      headers: {},
      queryStringParameters: null,
      body: Buffer.from(JSON.stringify({ instances: [4] })).toString('base64'),
      isBase64Encoded: true,
      requestContext: { requestId: 'rest-1' },
    })) as { statusCode: number; body: string };
    expect(JSON.parse(result.body)).toEqual({ predictions: [4], model_version: '1' });
  });

  // API Gateway never sends these, but anyone allowed to invoke the function can: each was a 500 (a TypeError).
  const v2 = (fields: object) => ({
    version: '2.0',
    rawPath: '/v1/models/half:predict',
    headers: {},
    requestContext: { http: { method: 'POST' } },
    body: '{"instances":[1]}',
    ...fields,
  });
  it.each([
    ['a direct invocation whose method is a number', { path: '/v2', method: 5 }, /^malformed direct invocation .*: method: .*expected string, received number$/],
    [
      'an HTTP API event without requestContext.http',
      v2({ requestContext: {} }),
      /^malformed API Gateway HTTP API event \(payload 2\.0\): requestContext\.http: .*expected object/,
    ],
    ['an HTTP API event whose body is an object', v2({ body: { instances: [1] } }), /: body: .*expected string, received object$/],
    ['an HTTP API event whose body is a number', v2({ body: 5 }), /: body: .*expected string, received number$/],
    ['an HTTP API event with a header that is a number', v2({ headers: { 'Content-Encoding': 5 } }), /: headers\.Content-Encoding: .*expected string, received number$/],
    [
      'a REST API event with a query parameter that is a list',
      { httpMethod: 'GET', path: '/v2', queryStringParameters: { alias: ['a'] } },
      /^malformed API Gateway REST API event \(payload 1\.0\): queryStringParameters\.alias: /,
    ],
    ['a direct invocation with a header that is an object', { path: '/v2', headers: { accept: {} } }, /: headers\.accept: .*expected string, received object$/],
  ])('answers %s with a 400 naming the field', async (_case, event, message) => {
    const answer = (await app.predict(event)) as { statusCode: number; body: unknown };
    expect(answer.statusCode).toBe(400);
    const body = typeof answer.body === 'string' ? JSON.parse(answer.body) : answer.body;
    expect(body.error).toMatch(message);
  });

  const tooBig = JSON.stringify({ instances: [1], pad: 'x'.repeat(6 * 1024 * 1024) });
  it.each([
    ['not JSON', 'POST', '/v1/models/half:predict', '{"instances": [1', 400, /not valid JSON/],
    ['no body', 'POST', '/v1/models/half:predict', undefined, 400, /needs a JSON body/],
    ['a body over 6 MB', 'POST', '/v1/models/half:predict', tooBig, 413, /limit is 6291456/],
    ['empty instances', 'POST', '/v1/models/half:predict', '{"instances": []}', 400, /instances is empty/],
    ['instances and inputs', 'POST', '/v1/models/half:predict', '{"instances": [1], "inputs": [1]}', 400, /exactly one of "instances"/],
    [
      'an unknown field',
      'POST',
      '/v1/models/half:predict',
      '{"instance": [1]}',
      400,
      /^body: unknown key\(s\) "instance": a TF Serving request takes signature_name, instances, inputs, raw, top_k;/,
    ],
    [
      'OIP tensors sent to TF Serving',
      'POST',
      '/v1/models/half:predict',
      '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}',
      400,
      /^inputs: these are Open Inference Protocol tensors \(name, shape, datatype, data\), which \/v2\/models\/half\/infer takes/,
    ],
    [
      'an unknown field of :classify',
      'POST',
      '/v1/models/half:regress',
      '{"examples": [{"x": 1}], "parameters": {}}',
      400,
      /^body: unknown key\(s\) "parameters": a TF Serving request takes signature_name, context, examples$/,
    ],
    // TF Serving refuses a signature the model lacks (GetInfoMap) and a row key no input has (AddInstanceItem): answered from the default signature, or the key dropped, the client would not know.
    ['a signature the model lacks', 'POST', '/v1/models/half:predict', '{"signature_name": "predict_images", "instances": [1]}', 400, /signature_name: "predict_images" not found/],
    ['a row key no input has', 'POST', '/v1/models/half:predict', '{"instances": [{"x": 1}, {"x": 2, "y": 3}]}', 400, /instances\[1\]: unknown input\(s\) y: the model takes x/],
    ['a wrong row shape', 'POST', '/v1/models/lin:predict', '{"instances": [[1, 2, 3]]}', 400, /shape \[1,3\] does not fit the model's \[-1,4\]/],
    ['ragged rows', 'POST', '/v1/models/lin:predict', '{"instances": [[1, 2, 3, 4], [1, 2]]}', 400, /instances\[1\]: ragged/],
    ['a string in a tensor', 'POST', '/v1/models/lin:predict', '{"instances": [[1, 2, "x", 4]]}', 400, /expected numbers/],
    ['a missing feature', 'POST', '/v1/models/lin:predict', '{"instances": [{"f1": 1, "f2": 2, "f3": 3}]}', 400, /instances\[0\]: missing f4/],
    ['an unknown feature', 'POST', '/v1/models/lin:predict', '{"instances": [{"f1": 1, "f2": 2, "f3": 3, "f4": 4, "f5": 5}]}', 400, /unknown feature\(s\) f5/],
    ['a non-numeric feature', 'POST', '/v1/models/lin:predict', '{"instances": [{"f1": "1", "f2": 2, "f3": 3, "f4": 4}]}', 400, /f1 must be a finite number/],
    ['an unknown model', 'POST', '/v1/models/nope:predict', '{"instances": [1]}', 404, /no model named nope/],
    ['an unknown version', 'POST', '/v1/models/half/versions/9:predict', '{"instances": [1]}', 404, /has no version 9/],
    ['an unknown label', 'POST', '/v1/models/half/labels/canary:predict', '{"instances": [1]}', 404, /has no alias canary/],
    ['an invalid model name', 'POST', '/v1/models/Bad..Name:predict', '{"instances": [1]}', 400, /invalid model name/],
    ['a version that is not a number', 'POST', '/v2/models/half/versions/x1/infer', '{"inputs": []}', 400, /invalid version/],
    ['an unknown route', 'POST', '/v1/models/half:train', '{}', 404, /no route/],
    ['a wrong method', 'GET', '/v1/models/half:predict', undefined, 405, /GET is not allowed/],
    // The OIP document's example input1 declares shape [3] but carries one value.
    [
      'OIP data that does not fill its shape',
      'POST',
      '/v2/models/half/infer',
      '{"inputs": [{"name": "x", "shape": [3], "datatype": "BOOL", "data": [true]}]}',
      400,
      /shape \[3\] needs 3 values, data has 1/,
    ],
    // Ignored, the answer was JSON where the client asked for binary (and a large one a 413 that binary output avoids).
    [
      "an OIP binary_data_output beside the request's parameters",
      'POST',
      '/v2/models/half/infer',
      '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "binary_data_output": true}',
      400,
      /^body: binary_data_output goes in the request's parameters: \{"parameters": \{"binary_data_output": \.\.\.\}\}$/,
    ],
    [
      "an OIP output's binary_data beside its parameters, and an unknown key of an input",
      'POST',
      '/v2/models/half/infer',
      '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "datum": 2}], "outputs": [{"name": "y", "binary_data": true}]}',
      400,
      /inputs\[0\]: unknown key "datum": an input takes name, shape, datatype, parameters, data; outputs\[0\]: binary_data goes in an output's parameters/,
    ],
    [
      'an OIP datatype that does not exist',
      'POST',
      '/v2/models/half/infer',
      '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]}',
      400,
      /inputs\[0\]\.datatype/,
    ],
    [
      'an OIP input the model does not have',
      'POST',
      '/v2/models/half/infer',
      '{"inputs": [{"name": "z", "shape": [1], "datatype": "FP32", "data": [1]}]}',
      400,
      /unknown input\(s\) z: the model takes x/,
    ],
    [
      'an OIP output the model does not have',
      'POST',
      '/v2/models/half/infer',
      '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "w"}]}',
      400,
      /unknown output\(s\) w/,
    ],
  ])('answers %s with %s', async (_case, method, url, body, status, message) => {
    await call(app.predict, 'POST', '/v1/models/lin:predict', { instances: [[1, 2, 3, 4]] }); // models loaded: baseline below is steady
    await call(app.predict, 'POST', '/v1/models/half:predict', { instances: [1] });
    const baseline = tf.memory().numTensors;
    const answer = await callHttpApi(app.predict as Handler, method, url, body);
    expect(answer.statusCode).toBe(status);
    expect(answer.body.error).toMatch(message);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('leaves no tensor behind after successful requests of every kind', async () => {
    await call(app.predict, 'POST', '/v1/models/lin:predict', { instances: [[1, 2, 3, 4]] });
    const baseline = tf.memory().numTensors;
    await call(app.predict, 'POST', '/v1/models/lin:predict', { instances: Array.from({ length: 600 }, () => [1, 2, 3, 4]) });
    await call(app.predict, 'POST', '/v2/models/lin/infer', { inputs: FEATURES.map((name) => ({ name, shape: [1], datatype: 'FP32', data: [1] })) });
    await call(app.metadata, 'GET', '/v2/models/lin');
    expect(tf.memory().numTensors).toBe(baseline);
  });
});

describe('a model that cannot load', () => {
  it('a version whose files fail their checksums: 500 saying so (no Retry-After: a retry reads the same bytes), no internals, and served again once repaired', async () => {
    const store = await tempFolderStore();
    await fill(store);
    app = serving(store.uri);
    const weights = path.join(fileURLToPath(store.uri), 'half', 'versions', '1', 'group1-shard1of1.bin');
    const original = await readFile(weights);
    await writeFile(weights, new Uint8Array(8));
    const answer = await callHttpApi(app.predict as Handler, 'POST', '/v1/models/half:predict', '{"instances": [1]}');
    expect(answer.statusCode).toBe(500);
    expect(answer.headers?.['retry-after']).toBeUndefined();
    expect(answer.body).toEqual({ error: expect.stringMatching(/damaged in the store.*push it again/), requestId: 'test-request' });
    expect(JSON.stringify(answer.body)).not.toMatch(/sha256|group1|\/tmp|at /);
    await writeFile(weights, original);
    expect((await call(app.predict, 'POST', '/v1/models/half:predict', { instances: [1] })).body.predictions).toEqual([2.5]);
  });

  it('answers 503 with Retry-After and without internals when the store cannot be reached', async () => {
    // (A 500 "internal error" for what nobody expected: backendFault.test.ts.)
    app = serving('s3://no-such-bucket/x', { S3_ENDPOINT: 'http://127.0.0.1:9' });
    const answer = await callHttpApi(app.metadata as Handler, 'GET', '/v2/models');
    expect(answer.statusCode).toBe(503);
    expect(answer.headers?.['retry-after']).toBe('5');
    expect(answer.body).toEqual({ error: 'the model store cannot be read right now; retry later', requestId: 'test-request' });
  });
});
