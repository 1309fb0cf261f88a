/**
 * The OpenAPI document tells the truth about the answers: every operation in it is called with
 * requests it says are valid, through the handlers as API Gateway's HTTP API delivers them, and
 * each answer's status is one the operation documents, its Content-Type one documented for that
 * status, and a JSON body validates against the documented schema (ajv, JSON Schema 2020-12, as
 * OpenAPI 3.1 says). A few documented errors are checked the same way. The document itself
 * validates against the OpenAPI 3.1 schema. Before this test most routes (metadata, readiness,
 * jobs, evaluations, preprocess, aliases) documented a 200 with no body at all, and infer's binary
 * answer and the PNG and HTML answers were not in the document.
 */
import { cp, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lib/api/openapi.js';
import { serving, waitForJob, type App, type Handler } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}
type Paths = Record<string, Record<string, Operation>>;

const document = (await openApiDocument()) as { paths: Paths };
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

const IRIS = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const VIRGINICA = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 };
const HOUSE = { crim: 0.027, zn: 0, indus: 7.07, chas: 0, nox: 0.469, rm: 6.42, age: 78.9, dis: 4.97, rad: 2, tax: 242, ptratio: 17.8, lstat: 9.14 };
const SEVEN = { b64: (await readFile('examples/seven.png')).toString('base64') };
const NATURAL: Record<string, unknown> = { iris: IRIS, spam: 'WIN a FREE prize now! Click here to claim your cash', digits: SEVEN, housing: HOUSE };
const MODELS = Object.keys(NATURAL);

/** Each documented path as a pattern (a parameter stops at '/' and ':', as the router's do). */
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({
    key: `${method.toUpperCase()} ${path}`,
    method: method.toUpperCase(),
    pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/:]+')}$`),
    operation,
  })),
);
const called = new Set<string>();

let app: App;
beforeAll(async () => {
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  app = serving(store.uri);
});

interface Sent {
  body?: unknown;
  headers?: Record<string, string>;
}

/** An HTTP API (payload 2.0) event for this request: query string parsed, bytes base64-encoded. */
function event(method: string, url: string, { body, headers = {} }: Sent) {
  const [path, rawQueryString = ''] = url.split('?');
  const bytes = body instanceof Uint8Array;
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString,
    queryStringParameters: rawQueryString ? Object.fromEntries(new URLSearchParams(rawQueryString)) : undefined,
    headers: { 'content-type': bytes ? 'application/octet-stream' : 'application/json', ...headers },
    requestContext: { http: { method, path }, requestId: 'openapi-test' },
    body: body === undefined ? undefined : bytes ? Buffer.from(body).toString('base64') : JSON.stringify(body),
    isBase64Encoded: bytes,
  };
}

const FUNCTION_OF: [RegExp, keyof App][] = [
  [/^POST .*(\/infer|:predict|:classify|:regress|\/preprocess|:explain)$/, 'predict'],
  [/^POST .*\/explain$/, 'explain'],
  [/^POST .*\/evaluate$/, 'evaluate'],
  [/^POST .*\/evaluations$/, 'evaluations'],
  [/^(POST .*\/fine-tune|(PUT|DELETE) .*\/aliases\/[^/]+|POST .*\/rollback)$/, 'fineTune'],
  [/^GET /, 'metadata'],
];

/** Calls the route and checks its answer against the document; returns the answer's JSON, if any. */
async function check(method: string, url: string, status: number, sent: Sent = {}): Promise<any> {
  const path = url.split('?')[0];
  const found = operations.find((o) => o.method === method && o.pattern.test(path));
  expect(found, `${method} ${path} is in the document`).toBeDefined();
  const { key, operation } = found!;
  called.add(key);
  const fn = FUNCTION_OF.find(([pattern]) => pattern.test(`${method} ${path}`))![1];
  const answer = (await (app[fn] as Handler)(event(method, url, sent))) as Awaited<ReturnType<Handler>> & { isBase64Encoded?: boolean };
  const contentType = answer.headers['content-type'].split(';')[0];
  const text = answer.isBase64Encoded ? '' : String(answer.body);
  expect(answer.statusCode, `${key}: ${text.slice(0, 300)}`).toBe(status);
  const documented = operation.responses[String(status)];
  expect(documented, `${key}: status ${status} documented`).toBeDefined();
  expect(Object.keys(documented.content ?? {}), `${key}: ${status} documents ${contentType}`).toContain(contentType);
  if (contentType !== 'application/json') return undefined;
  const value = JSON.parse(text);
  const validate = ajv.compile(documented.content!['application/json'].schema!);
  expect(validate(value) ? [] : validate.errors, `${key} ${status}: ${text.slice(0, 300)}`).toEqual([]);
  return value;
}

describe('OpenAPI document', () => {
  it('validates as OpenAPI 3.1', async () => {
    const result = await new Validator().validate(structuredClone(document) as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});

describe('every operation answers as the OpenAPI document says', () => {
  it('health and server metadata', async () => {
    await check('GET', '/v2', 200);
    await check('GET', '/v2/health/live', 200);
    await check('GET', '/v2/health/ready', 200);
    const list = await check('GET', '/v2/models', 200);
    expect(list.models.map((m: { name: string }) => m.name)).toEqual(['digits', 'housing', 'iris', 'spam']);
    await check('GET', '/openapi.json', 200);
  });

  it.each(MODELS)('%s: OIP and TF Serving metadata and readiness, every path form', async (model) => {
    for (const url of [`/v2/models/${model}`, `/v2/models/${model}?alias=production`, `/v2/models/${model}/versions/1`]) await check('GET', url, 200);
    for (const url of [`/v2/models/${model}/ready`, `/v2/models/${model}/ready?alias=production`, `/v2/models/${model}/versions/1/ready`]) await check('GET', url, 200);
    for (const base of [`/v1/models/${model}`, `/v1/models/${model}/versions/1`, `/v1/models/${model}/labels/production`]) {
      await check('GET', base, 200);
      await check('GET', `${base}/metadata`, 200);
    }
  });

  it.each(MODELS)('%s: TF Serving predict and explain, OIP preprocess and explain, on natural instances', async (model) => {
    const instances = [NATURAL[model]];
    for (const base of [`/v1/models/${model}`, `/v1/models/${model}/versions/1`, `/v1/models/${model}/labels/production`]) {
      await check('POST', `${base}:predict`, 200, { body: { instances } });
      await check('POST', `${base}:explain?format=json`, 200, { body: { instances, steps: 4 } });
    }
    await check('POST', `/v1/models/${model}:predict`, 200, { body: { instances, raw: true, signature_name: 'serving_default' } });
    await check('POST', `/v1/models/${model}:predict`, 400, { body: { instances, raw: true, top_k: 1 } });
    await check('POST', `/v2/models/${model}/preprocess?alias=production&format=json`, 200, { body: { instances } });
    await check('POST', `/v2/models/${model}/versions/1/preprocess`, 200, { body: { instances } });
    await check('POST', `/v2/models/${model}/explain?alias=production`, 200, { body: { instances, steps: 4 } });
    await check('POST', `/v2/models/${model}/versions/1/explain`, 200, { body: { instances, method: 'kernelShap', nSamples: 64 } });
  });

  it.each(MODELS)('%s: TF Serving classify or regress on a feature dictionary, every path form', async (model) => {
    const example = model === 'iris' || model === 'housing' ? NATURAL[model] : { [model === 'spam' ? 'text' : 'image']: NATURAL[model] };
    const verb = model === 'housing' ? 'regress' : 'classify';
    for (const base of [`/v1/models/${model}`, `/v1/models/${model}/versions/1`, `/v1/models/${model}/labels/production`]) {
      await check('POST', `${base}:${verb}`, 200, { body: { examples: [example, example] } });
    }
    await check('POST', `/v1/models/${model}:${verb === 'regress' ? 'classify' : 'regress'}`, 400, { body: { signature_name: '', examples: [example] } });
  });

  it('an image model: a PNG of what it sees, heatmaps in the explanation', async () => {
    await check('POST', '/v2/models/digits/preprocess?format=png', 200, { body: { instances: [SEVEN] } });
    const explained = await check('POST', '/v2/models/digits/explain?format=png', 200, { body: { instances: [SEVEN], steps: 4 } });
    expect(explained.data.explanations[0].png).toMatch(/^iVBORw0KGgo/); // base64 of a PNG signature
    await check('POST', '/v1/models/digits:explain?format=png', 200, { body: { instances: [SEVEN], steps: 4 } });
  });

  it('OIP infer: JSON on every model, and the binary tensor data extension', async () => {
    const features = { name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] };
    await check('POST', '/v2/models/iris/infer', 200, { body: { inputs: [features] } });
    await check('POST', '/v2/models/iris/versions/1/infer', 200, { body: { id: 'a', inputs: [features], outputs: [{ name: 'label' }] } });
    const text = { name: 'text', shape: [1], datatype: 'BYTES', parameters: { content_type: 'str' }, data: ['free money now'] };
    await check('POST', '/v2/models/spam/infer?alias=production', 200, { body: { inputs: [text] } });
    await check('POST', '/v2/models/digits/infer', 200, {
      body: { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { content_type: 'base64' }, data: [SEVEN.b64] }] },
    });
    const columns = Object.entries(HOUSE).map(([name, value]) => ({ name, shape: [1], datatype: 'FP64', data: [value] }));
    await check('POST', '/v2/models/housing/infer', 200, { body: { parameters: { content_type: 'pd' }, inputs: columns } });
    const values = new Float32Array([5.1, 3.5, 1.4, 0.2]);
    const header = Buffer.from(JSON.stringify({ inputs: [{ ...features, data: undefined, parameters: { binary_data_size: 16 } }], parameters: { binary_data_output: true } }));
    const headers = { 'inference-header-content-length': String(header.length) };
    await check('POST', '/v2/models/iris/infer', 200, { body: new Uint8Array(Buffer.concat([header, Buffer.from(values.buffer)])), headers });
  });

  it('evaluate and evaluations: JSON and HTML reports, inline and data set', async () => {
    const inline = { instances: [IRIS, VIRGINICA], labels: ['setosa', 'virginica'] };
    await check('POST', '/v2/models/iris/evaluate', 200, { body: inline });
    await check('POST', '/v2/models/iris/evaluate?report=html', 200, { body: inline });
    await check('POST', '/v2/models/housing/versions/1/evaluate?report=json&async=false', 200, { body: { dataset: '_datasets/housing-test.csv', labelColumn: 'medv' } });
    await check('POST', '/v2/models/iris/evaluate?async=true', 403, { body: inline });
    await check('POST', '/v2/models/iris/evaluations', 200, { body: { ...inline, save: true } });
    await check('POST', '/v2/models/iris/versions/1/evaluations?report=html', 200, { body: inline });
    await check('POST', '/v2/models/iris/evaluations', 403, { body: { dataset: 's3://another-bucket/data.csv' } });
    // the evaluation saved is listed in the metadata, as documented
    const meta = await check('GET', '/v2/models/iris', 200);
    expect(meta.evaluationCount).toBe(1);
    const accepted = await check('POST', '/v2/models/iris/evaluations?async=true', 202, { body: inline });
    await waitForJob(app, accepted.id);
    expect((await check('GET', `/v2/jobs/${accepted.id}`, 200)).status).toBe('succeeded');
  });

  it('fine-tune, jobs and aliases', async () => {
    const rows = { instances: [IRIS, VIRGINICA], labels: ['setosa', 'virginica'], validation: { split: 0.5 }, config: { epochs: 1 } };
    const accepted = await check('POST', '/v2/models/iris/versions/1/fine-tune', 202, { body: rows });
    await check('GET', `/v2/jobs/${accepted.id}`, 200);
    expect((await waitForJob(app, accepted.id)).status).toBe('succeeded');
    const job = await check('GET', `/v2/jobs/${accepted.id}`, 200);
    expect(job.result.version).toBe(2);
    await waitForJob(app, (await check('POST', '/v2/models/iris/fine-tune?alias=production', 202, { body: rows })).id);
    await check('PUT', '/v2/models/iris/aliases/staging', 200, { body: { version: 1 } });
    expect((await check('PUT', '/v2/models/iris/aliases/staging', 200, { body: { version: 2 } })).previous).toEqual([1]);
    expect((await check('POST', '/v2/models/iris/aliases/staging/rollback', 200)).version).toBe(1);
    expect(await check('GET', '/v2/models/iris/aliases/staging', 200)).toMatchObject({ version: 1, previous: [] });
    await check('POST', '/v2/models/iris/aliases/staging/rollback', 409);
    await check('DELETE', '/v2/models/iris/aliases/staging?from=2', 409);
    expect(await check('DELETE', '/v2/models/iris/aliases/staging?from=1', 200)).toMatchObject({ deleted: true, version: 1 });
    await check('DELETE', '/v2/models/iris/aliases/staging', 404);
    await check('GET', '/v2/models/iris/aliases/staging', 404);
  });

  it('documented errors, with the documented error body', async () => {
    await check('GET', '/v2/models/nope', 404);
    await check('GET', '/v1/models/iris/labels/nope/metadata', 404);
    await check('GET', '/v2/models/iris/versions/1?alias=production', 400);
    await check('GET', '/v2/jobs/00000000-0000-4000-8000-000000000000', 404);
    await check('POST', '/v1/models/iris:predict', 400, { body: { instances: [IRIS], top_k: 0 } });
    await check('POST', '/v2/models/iris/infer', 415, { body: { inputs: [] }, headers: { 'content-encoding': 'br' } });
    const overflow = { name: 'features', shape: [1, 4], datatype: 'FP32', data: [1e38, 1e38, 1e38, 1e38] };
    await check('POST', '/v2/models/iris/infer', 422, { body: { inputs: [overflow], outputs: [{ name: 'label' }] } });
  });

  it('every operation of the document was called', () => {
    expect(operations.map((o) => o.key).filter((key) => !called.has(key))).toEqual([]);
  });
});
