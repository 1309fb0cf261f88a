/**
 * The OIP binary tensor data extension end to end through the predict handler, as API Gateway
 * delivers a binary body (base64, isBase64Encoded): every demo model answers the same through
 * binary and JSON, for raw tensors and for natural inputs (text as BYTES, PNG bytes as BYTES),
 * with outputs as binary, as JSON, or mixed; malformed binary bodies are 400s naming what is wrong.
 * The client (test/helpers/binaryClient.ts) is written from the extension's text.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { binaryRequest, readBinaryResponse, type BinaryInput } from '../helpers/binaryClient.js';
import { call, httpApiEvent, serving, type App } from '../helpers/serving.js';

let app: App;

interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
}

/** A POST through API Gateway HTTP API (payload 2.0), its body base64-encoded as API Gateway does for binary content. */
async function postBinary(path: string, body: Uint8Array, headerLength: number | string, contentType = 'application/octet-stream'): Promise<HttpAnswer> {
  return (await app.predict({
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': contentType, 'inference-header-content-length': String(headerLength) },
    requestContext: { http: { method: 'POST', path }, requestId: 'binary-test' },
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
  })) as unknown as HttpAnswer;
}

/** The outputs of a binary answer (binary or JSON ones), or of a JSON answer. */
function outputsOf(answer: HttpAnswer): { name: string; datatype: string; shape: number[]; data: unknown[] }[] {
  if (answer.isBase64Encoded) {
    const bytes = new Uint8Array(Buffer.from(answer.body, 'base64'));
    return readBinaryResponse(bytes, Number(answer.headers['inference-header-content-length'])).outputs;
  }
  return JSON.parse(answer.body).outputs;
}

const rows = (csv: string, take: number) =>
  csv
    .trim()
    .split('\n')
    .slice(1, 1 + take)
    .map((line) => line.split(',').map(Number));

let cases: { model: string; json: unknown; binary: BinaryInput }[];

beforeAll(async () => {
  app = serving('file://models');
  const iris = rows(await readFile('models/_datasets/iris-test.csv', 'utf8'), 5).map((r) => r.slice(0, 4));
  const housing = rows(await readFile('models/_datasets/housing-test.csv', 'utf8'), 5).map((r) => r.slice(0, 12));
  const spam = (await readFile('models/_datasets/spam-test.jsonl', 'utf8'))
    .trim()
    .split('\n')
    .slice(0, 4)
    .map((l) => JSON.parse(l).text as string);
  const digits = (await readFile('models/_datasets/digits-test.jsonl', 'utf8'))
    .trim()
    .split('\n')
    .slice(0, 4)
    .map((l) => JSON.parse(l).image.b64 as string);
  const pixels = Array.from({ length: 2 * 28 * 28 }, (_, i) => ((i * 37) % 255) / 255);
  cases = [
    {
      model: 'iris',
      json: { name: 'features', shape: [5, 4], datatype: 'FP32', data: iris.flat() },
      binary: { name: 'features', shape: [5, 4], datatype: 'FP32', values: iris.flat() },
    },
    {
      model: 'housing',
      json: { name: 'features', shape: [5, 12], datatype: 'FP32', data: housing.flat() },
      binary: { name: 'features', shape: [5, 12], datatype: 'FP32', values: housing.flat() },
    },
    { model: 'spam', json: { name: 'text', shape: [4], datatype: 'BYTES', data: spam }, binary: { name: 'text', shape: [4], datatype: 'BYTES', values: spam } },
    {
      model: 'digits',
      json: { name: 'image', shape: [4], datatype: 'BYTES', data: digits },
      binary: { name: 'image', shape: [4], datatype: 'BYTES', values: digits.map((b64) => new Uint8Array(Buffer.from(b64, 'base64'))) },
    },
    {
      model: 'digits',
      json: { name: 'image', shape: [2, 28, 28, 1], datatype: 'FP32', data: pixels },
      binary: { name: 'image', shape: [2, 28, 28, 1], datatype: 'FP32', values: pixels },
    },
  ];
});

describe('binary and JSON answer the same', () => {
  it('on every demo model, raw tensors and natural inputs, outputs as binary', async () => {
    for (const c of cases) {
      const json = await call(app.predict, 'POST', `/v2/models/${c.model}/infer`, { inputs: [c.json] });
      expect(json.statusCode, `${c.model} JSON: ${JSON.stringify(json.body).slice(0, 200)}`).toBe(200);
      const { body, headerLength } = binaryRequest([c.binary], { parameters: { binary_data_output: true } });
      const answer = await postBinary(`/v2/models/${c.model}/infer`, body, headerLength);
      expect(answer.statusCode, `${c.model} binary: ${answer.body.slice(0, 200)}`).toBe(200);
      expect(answer.isBase64Encoded).toBe(true);
      expect(answer.headers['content-type']).toBe('application/octet-stream');
      const binaryOutputs = outputsOf(answer);
      expect(binaryOutputs.map((o) => o.name)).toEqual(json.body.outputs.map((o: { name: string }) => o.name));
      for (const [i, o] of binaryOutputs.entries()) {
        expect({ model: c.model, ...o }).toEqual({ model: c.model, ...json.body.outputs[i], parameters: undefined, data: json.body.outputs[i].data });
      }
    }
  });

  it('binary inputs with JSON outputs, and mixed outputs (per-output binary_data over binary_data_output)', async () => {
    const c = cases[0];
    const json = await call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [c.json] });
    const plain = binaryRequest([c.binary]);
    const jsonAnswer = await postBinary('/v2/models/iris/infer', plain.body, plain.headerLength);
    expect(jsonAnswer.isBase64Encoded).toBe(false);
    expect(JSON.parse(jsonAnswer.body)).toEqual(json.body);

    const mixed = binaryRequest([c.binary], {
      parameters: { binary_data_output: true },
      outputs: [{ name: 'label', parameters: { binary_data: false } }, { name: 'probabilities' }],
    });
    const answer = await postBinary('/v2/models/iris/infer', mixed.body, mixed.headerLength);
    const bytes = new Uint8Array(Buffer.from(answer.body, 'base64'));
    const { header, outputs } = readBinaryResponse(bytes, Number(answer.headers['inference-header-content-length']));
    const byName = Object.fromEntries((header.outputs as { name: string; data?: unknown; parameters?: { binary_data_size?: number } }[]).map((o) => [o.name, o]));
    expect(byName.label.data).toEqual(json.body.outputs.find((o: { name: string }) => o.name === 'label').data);
    expect(byName.probabilities.data).toBeUndefined();
    expect(byName.probabilities.parameters?.binary_data_size).toBe(5 * 3 * 4);
    expect(outputs.find((o) => o.name === 'probabilities')?.data).toEqual(json.body.outputs.find((o: { name: string }) => o.name === 'probabilities').data);
  });

  it('binary_data or binary_data_output other than true or false: 400 naming it (a string "true" answered JSON, silently)', async () => {
    const c = cases[0];
    const asked = [
      { parameters: { binary_data_output: 'true' } },
      { parameters: { binary_data_output: 1 } },
      { outputs: [{ name: 'probabilities', parameters: { binary_data: 'true' } }] },
    ];
    const errors = await Promise.all(asked.map((extra) => call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [c.json], ...extra })));
    expect(errors.map((e) => e.statusCode)).toEqual([400, 400, 400]);
    expect(errors.map((e) => e.body.error)).toEqual([
      'parameters.binary_data_output: expected true or false, got "true"',
      'parameters.binary_data_output: expected true or false, got 1',
      'outputs[0].parameters.binary_data: expected true or false, got "true"',
    ]);
  });

  it('reads every integer and float datatype into what TF.js computes with', async () => {
    const iris = (cases[0].binary.values as number[]).slice(0, 4);
    const json = await call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: iris }] });
    // Values every type holds exactly (FP16 too): 5, 3, 1 and 2 (a flower that needs no fraction).
    const whole = [5, 3, 1, 2];
    const reference = await call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: whole }] });
    expect(json.statusCode).toBe(200);
    for (const datatype of ['FP16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']) {
      const { body, headerLength } = binaryRequest([{ name: 'features', shape: [1, 4], datatype, values: whole }]);
      const answer = await postBinary('/v2/models/iris/infer', body, headerLength);
      expect([datatype, answer.statusCode]).toEqual([datatype, 200]);
      expect([datatype, JSON.parse(answer.body).outputs]).toEqual([datatype, reference.body.outputs]);
    }
  });

  it('JSON FP16 values are the halves they name, as in binary and in numpy (MLServer, KServe): it fed the model the float32', async () => {
    const infer = (datatype: string, data: number[]) => call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [1, 4], datatype, data }] });
    // numpy: np.array([6.3, 2.7, 4.9, 1.8], dtype=np.float16) -> [6.30078125, 2.69921875, 4.8984375, 1.7998046875]
    const halves = [6.30078125, 2.69921875, 4.8984375, 1.7998046875];
    const asHalves = await infer('FP32', halves);
    const asFloats = await infer('FP32', [6.3, 2.7, 4.9, 1.8]);
    expect(asHalves.body.outputs[0].data).not.toEqual(asFloats.body.outputs[0].data);
    expect((await infer('FP16', [6.3, 2.7, 4.9, 1.8])).body.outputs).toEqual(asHalves.body.outputs);
    const { body, headerLength } = binaryRequest([{ name: 'features', shape: [1, 4], datatype: 'FP16', values: halves }]);
    expect(JSON.parse((await postBinary('/v2/models/iris/infer', body, headerLength)).body).outputs).toEqual(asHalves.body.outputs);
    const tooLarge = await infer('FP16', [6.3, 70000, 4.9, 1.8]);
    expect(tooLarge.statusCode).toBe(400);
    expect(tooLarge.body.error).toBe('inputs[0] (features).data[1] (flat index): 70000 does not fit FP16 (at most ±65504)');
  });
});

describe('BOOL in binary: one byte an element, 1 true and 0 false', () => {
  it('is read as JSON BOOL data is: the same answer (it was a 400 claiming the request was plain JSON)', async () => {
    const flags = [true, false, true, true];
    const json = await call(app.predict, 'POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [1, 4], datatype: 'BOOL', data: flags }] });
    expect(json.statusCode, JSON.stringify(json.body)).toBe(200);
    const { body, headerLength } = binaryRequest([{ name: 'features', shape: [1, 4], datatype: 'BOOL', values: flags }]);
    const answer = await postBinary('/v2/models/iris/infer', body, headerLength);
    expect(answer.statusCode, answer.body).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(json.body);
  });

  it('as booleans, not numbers: feature columns refuse them as they refuse JSON true', async () => {
    const features = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
    const { body, headerLength } = binaryRequest(features.map((name) => ({ name, shape: [1], datatype: 'BOOL', values: [true] })));
    const answer = await postBinary('/v2/models/iris/infer', body, headerLength);
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body).error).toMatch(/sepal_length must be a finite number, got true/);
  });

  it('a byte other than 0 and 1 (the extension defines no other): 400 naming the element and the byte', async () => {
    const { body, headerLength } = binaryRequest([{ name: 'features', shape: [1, 4], datatype: 'BOOL', values: [true, false, true, true] }]);
    body.set([1, 0, 2, 0xff], headerLength);
    const answer = await postBinary('/v2/models/iris/infer', body, headerLength);
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body).error).toBe(`inputs[0] ("features"): BOOL element 2 is the byte 2; the binary extension's BOOL is 1 (true) or 0 (false)`);
  });
});

describe('BYTES instances in binary keep their declared shape', () => {
  it('a column of texts, [N] or [N, 1], is N instances; a row of the raw tensor as strings is not 1000 of them', async () => {
    const texts = ['free money now', 'see you at lunch'];
    const column = binaryRequest([{ name: 'text', shape: [2, 1], datatype: 'BYTES', values: texts }]);
    const answer = await postBinary('/v2/models/spam/infer', column.body, column.headerLength);
    expect(answer.statusCode, answer.body).toBe(200);
    expect(JSON.parse(answer.body).outputs[0].shape).toEqual([2, 1]);
    const row = binaryRequest([{ name: 'bag_of_words', shape: [1, 1000], datatype: 'BYTES', values: Array.from({ length: 1000 }, () => 'x') }]);
    const refused = await postBinary('/v2/models/spam/infer', row.body, row.headerLength);
    expect(refused.statusCode).toBe(400);
    expect(JSON.parse(refused.body).error).toMatch(/^inputs\[0\] \(bag_of_words\): shape \[1,1000\] is not a column of text instances/);
  });
});

describe('BYTES text in binary means what the same text in JSON means', () => {
  it('invalid UTF-8 is a 400 naming the element (it was read with replacement characters)', async () => {
    const bad = binaryRequest([{ name: 'text', shape: [2], datatype: 'BYTES', values: ['free money now', new Uint8Array([0x66, 0xff, 0x66])] }]);
    const refused = await postBinary('/v2/models/spam/infer', bad.body, bad.headerLength);
    expect(refused.statusCode).toBe(400);
    expect(JSON.parse(refused.body).error).toBe('inputs[0] (text): BYTES element 1 is not valid UTF-8 text');
  });
});

/** A float32 tensor's bytes, little-endian, as a raw binary body carries them. */
const float32Bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

describe("Triton's raw binary request (Inference-Header-Content-Length: 0, the body one input's bytes)", () => {
  /** The answer of the same request in JSON, every output asked in binary as a raw request's are. */
  async function jsonTwin(model: string, input: unknown) {
    const json = await call(app.predict, 'POST', `/v2/models/${model}/infer`, { inputs: [input] });
    expect(json.statusCode).toBe(200);
    return json.body.outputs.map((o: Record<string, unknown>) => ({ ...o, parameters: undefined }));
  }

  it('answers one row of a tensor input (the byte count settles the shape), every output in binary, as the JSON request does', async () => {
    const row = [5.1, 3.5, 1.4, 0.2];
    const answer = await postBinary('/v2/models/iris/infer', float32Bytes(row), 0);
    expect(answer.statusCode, answer.body.slice(0, 300)).toBe(200);
    expect(answer.headers['content-type']).toBe('application/octet-stream');
    expect(outputsOf(answer)).toEqual(await jsonTwin('iris', { name: 'features', shape: [1, 4], datatype: 'FP32', data: row }));
    // A length written with leading zeros is the same 0 (it answered 500 once).
    expect(outputsOf(await postBinary('/v2/models/iris/infer', float32Bytes(row), '000'))).toEqual(outputsOf(answer));
    const pixels = Array.from({ length: 28 * 28 }, (_, i) => ((i * 37) % 255) / 255);
    const image = await postBinary('/v2/models/digits/infer', float32Bytes(pixels), 0);
    expect(outputsOf(image)).toEqual(await jsonTwin('digits', { name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', data: pixels }));
  });

  it('takes an image file (Content-Type image/*) for an image model and a text (text/plain) for a text model, as their JSON twins', async () => {
    const png = JSON.parse((await readFile('models/_datasets/digits-test.jsonl', 'utf8')).split('\n')[0]).image.b64 as string;
    const image = await postBinary('/v2/models/digits/infer', new Uint8Array(Buffer.from(png, 'base64')), 0, 'image/png');
    expect(image.statusCode, image.body.slice(0, 300)).toBe(200);
    expect(outputsOf(image)).toEqual(await jsonTwin('digits', { name: 'image', shape: [1], datatype: 'BYTES', data: [png] }));
    // Sent as application/octet-stream, as a local server needs a binary body: a file, by its signature.
    expect(outputsOf(await postBinary('/v2/models/digits/infer', new Uint8Array(Buffer.from(png, 'base64')), 0))).toEqual(outputsOf(image));
    const text = 'WINNER!! You have been selected to receive a cash prize. Call now';
    const spam = await postBinary('/v2/models/spam/infer', new TextEncoder().encode(text), 0, 'text/plain; charset=utf-8');
    expect(spam.statusCode, spam.body.slice(0, 300)).toBe(200);
    expect(outputsOf(spam)).toEqual(await jsonTwin('spam', { name: 'text', shape: [1], datatype: 'BYTES', data: [text] }));
  });

  it.each([
    [
      'iris',
      float32Bytes([5.1, 3.5, 1.4]),
      undefined,
      'the raw binary body has 12 bytes; a raw body for model iris is one row of its input features, FP32 [1,4] (little-endian), 16 bytes',
    ],
    [
      'iris',
      float32Bytes([5.1, 3.5, 1.4, 0.2, 1]),
      undefined,
      'the raw binary body has 20 bytes; a raw body for model iris is one row of its input features, FP32 [1,4] (little-endian), 16 bytes',
    ],
    ['iris', new Uint8Array(0), undefined, 'the raw binary body has 0 bytes; a raw body for model iris is one row of its input features, FP32 [1,4] (little-endian), 16 bytes'],
    [
      'iris',
      new Uint8Array([0xff, 0xd8, 0xff]),
      'image/jpeg',
      'a raw image/jpeg body is one of the images an image model takes; model iris takes none: a raw body for model iris is one row of its input features, FP32 [1,4] (little-endian), 16 bytes',
    ],
    [
      'digits',
      new TextEncoder().encode('seven'),
      'text/plain',
      'a raw text/plain body is one of the texts a text model takes; model digits takes none: a raw body for model digits is one row of its input image, FP32 [1,28,28,1] (little-endian), 3136 bytes',
    ],
    ['digits', new Uint8Array([1, 2, 3]), 'image/png', 'not a PNG or JPEG image'],
  ])('refuses a body that is not one input of %s (%#) with a 400 naming the bytes it takes', async (model, body, contentType, message) => {
    const answer = await postBinary(`/v2/models/${model}/infer`, body, 0, contentType);
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body).error).toContain(message);
  });
});

describe('malformed binary bodies are 400s naming the problem', () => {
  const irisInput: BinaryInput = { name: 'features', shape: [1, 4], datatype: 'FP32', values: [5, 3, 1, 2] };
  it.each([
    ['a header length past the body', (b: Uint8Array, h: number) => ({ body: b, header: h + b.length }), /Inference-Header-Content-Length is/],
    ['a header length in hexadecimal', (b: Uint8Array, h: number) => ({ body: b, header: `0x${h.toString(16)}` }), /Inference-Header-Content-Length is "0x/],
    ['a header length with a fraction', (b: Uint8Array, h: number) => ({ body: b, header: `${h}.0` }), /Inference-Header-Content-Length is "\d+\.0"/],
    ['a header length that cuts the JSON', (b: Uint8Array, h: number) => ({ body: b, header: h - 3 }), /JSON header .* is not valid JSON|binary_data_size/],
    ['bytes left over after the inputs', (b: Uint8Array, h: number) => ({ body: new Uint8Array([...b, 0, 0, 0, 0]), header: h }), /follow the JSON header/],
    ['a body short of its binary_data_size', (b: Uint8Array, h: number) => ({ body: b.subarray(0, b.length - 4), header: h }), /runs past the end of the body/],
  ])('%s', async (_, mangle, message) => {
    const { body, headerLength } = binaryRequest([irisInput]);
    const bad = mangle(body, headerLength);
    const answer = await postBinary('/v2/models/iris/infer', bad.body, bad.header);
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body).error).toMatch(message);
  });

  it('a size that does not fit the shape, an int64 past int32, a cut BYTES element', async () => {
    const wrongShape = binaryRequest([{ ...irisInput, shape: [1, 3] }]);
    expect(JSON.parse((await postBinary('/v2/models/iris/infer', wrongShape.body, wrongShape.headerLength)).body).error).toMatch(/shape needs 3 FP32 values of 4 bytes \(12\)/);
    const big = binaryRequest([{ name: 'features', shape: [1, 4], datatype: 'INT64', values: [5, 3, 2 ** 33, 2] }]);
    expect(JSON.parse((await postBinary('/v2/models/iris/infer', big.body, big.headerLength)).body).error).toMatch(/does not fit int32/);
    const text = binaryRequest([{ name: 'text', shape: [1], datatype: 'BYTES', values: ['free money now'] }]);
    const cut = new Uint8Array(text.body);
    new DataView(cut.buffer).setUint32(text.headerLength, 1000, true); // claims 1000 bytes
    const answer = await postBinary('/v2/models/spam/infer', cut, text.headerLength);
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body).error).toMatch(/runs past binary_data_size/);
  });
});

describe('binary_data_size in a plain JSON body (no Inference-Header-Content-Length)', () => {
  // The values are in "data", not after the JSON: they were used as if the binary reader had checked them (a 500, or an answer computed from strings).
  it.each([
    ['spam', { name: 'text', shape: [1], datatype: 'BYTES', data: ['free money'], parameters: { binary_data_size: 10 } }],
    ['iris', { name: 'features', shape: [1, 4], datatype: 'FP32', data: [{}, {}, {}, {}], parameters: { binary_data_size: 16 } }],
    ['iris', { name: 'features', shape: [1, 4], datatype: 'FP32', data: ['a', 'b', 'c', 'd'], parameters: { binary_data_size: 16 } }],
    ['iris', { name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2], parameters: { binary_data_size: 16 } }],
  ])('%s %j: a 400 saying the request is plain JSON', async (model, input) => {
    const answer = await call(app.predict, 'POST', `/v2/models/${model}/infer`, { inputs: [input] });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(/parameters\.binary_data_size says the values follow the JSON in binary, but this request is plain JSON/);
  });
});

describe('a binary body that arrived as text', () => {
  it('its counts do not add up: the 400 says to send application/octet-stream (a local server decodes other types as UTF-8)', async () => {
    const { body, headerLength } = binaryRequest([{ name: 'features', shape: [1, 4], datatype: 'FP32', values: [5.1, 3.5, 1.4, 0.2] }]);
    const event = {
      ...httpApiEvent('POST', '/v2/models/iris/infer', Buffer.from(body).toString('utf8')),
      headers: { 'content-type': 'application/json', 'inference-header-content-length': String(headerLength) },
    };
    const answer = (await app.predict(event)) as unknown as HttpAnswer;
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body).error).toMatch(
      /follow the JSON header \(send a binary body with Content-Type: application\/octet-stream; as application\/json it arrives as text and its bytes are altered\)/,
    );
  });
});

describe('a compressed body', () => {
  // gzip and deflate are read (test/integration/compressedBodies.test.ts); other codings are not.
  it('Content-Encoding br: 415 naming the codings read (it was a 400 about invalid JSON)', async () => {
    const event = {
      ...httpApiEvent('POST', '/v1/models/iris:predict', '{"instances":[[5.1,3.5,1.4,0.2]]}'),
      headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
    };
    const answer = (await app.predict(event)) as unknown as HttpAnswer;
    expect(answer.statusCode).toBe(415);
    expect(JSON.parse(answer.body).error).toBe('Content-Encoding br is not accepted: send gzip, deflate or identity (uncompressed)');
  });
});

describe('advertised', () => {
  it('GET /v2 lists binary_tensor_data among the extensions', async () => {
    expect((await call(app.metadata, 'GET', '/v2')).body.extensions).toContain('binary_tensor_data');
  });
});
