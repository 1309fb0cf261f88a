/**
 * Compressed request bodies and answers through the predict handler, as API Gateway HTTP API
 * delivers them (a binary body base64-encoded, isBase64Encoded): gzip and deflate bodies read as
 * the plain ones, JSON and the binary tensor data extension alike; a decompression bomb stops at
 * the body limit (413), corrupt data is a 400, other codings a 415; answers come compressed when
 * Accept-Encoding takes it (q=0 refuses), and an answer over 6 MB that fits compressed is sent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deflateRawSync, deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lib/http/body.js';
import { binaryRequest } from '../helpers/binaryClient.js';
import { httpApiEvent, serving } from '../helpers/serving.js';

const app = serving(new URL('../../models', import.meta.url).href);

interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
}

/** A POST as HTTP API delivers it: headers as given, the body's bytes base64-encoded. */
async function post(path: string, body: Uint8Array | string, headers: Record<string, string>, handler = app.predict): Promise<HttpAnswer> {
  const event = { ...httpApiEvent('POST', path), headers, body: Buffer.from(body).toString('base64'), isBase64Encoded: true };
  return (await handler(event)) as unknown as HttpAnswer;
}

/** The answer's bytes, inflated as its Content-Encoding says. */
function bytesOf(answer: HttpAnswer): Buffer {
  const bytes = answer.isBase64Encoded ? Buffer.from(answer.body, 'base64') : Buffer.from(answer.body);
  return answer.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes;
}
const jsonOf = (answer: HttpAnswer) => JSON.parse(bytesOf(answer).toString('utf8'));

const OCTETS = { 'content-type': 'application/octet-stream' };
const flower = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const iris = JSON.stringify({ instances: [flower] });
const setosa = { label: 'setosa' };

describe('a compressed request body', () => {
  it.each([
    ['gzip', gzipSync],
    ['GZIP', gzipSync],
    [' Gzip ', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
    ['deflate', deflateRawSync], // raw deflate, as some clients send under this name
    ['identity', (b: Buffer) => b],
    ['identity, gzip', gzipSync],
  ])('Content-Encoding %j is read as the plain body (it was a 415)', async (encoding, compress) => {
    for (const type of ['application/json', 'application/octet-stream']) {
      const answer = await post('/v1/models/iris:predict', compress(Buffer.from(iris)), { 'content-type': type, 'content-encoding': encoding });
      expect(answer.statusCode, answer.body).toBe(200);
      expect(jsonOf(answer).predictions[0]).toMatchObject(setosa);
    }
  });

  it('two codings are undone in the reverse of the order the header lists them', async () => {
    const twice = gzipSync(deflateSync(Buffer.from(iris)));
    const answer = await post('/v1/models/iris:predict', twice, { ...OCTETS, 'content-encoding': 'deflate, gzip' });
    expect(jsonOf(answer).predictions[0]).toMatchObject(setosa);
  });

  it('an OIP binary tensor body: Inference-Header-Content-Length counts the inflated bytes', async () => {
    const rows = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];
    const { body, headerLength } = binaryRequest([{ name: 'features', shape: [2, 4], datatype: 'FP32', values: rows }]);
    const headers = { ...OCTETS, 'inference-header-content-length': String(headerLength) };
    const plain = await post('/v2/models/iris/infer', body, headers);
    const packed = await post('/v2/models/iris/infer', gzipSync(body), { ...headers, 'content-encoding': 'gzip' });
    expect(packed.statusCode, packed.body).toBe(200);
    expect(jsonOf(packed).outputs).toEqual(jsonOf(plain).outputs);
    expect(jsonOf(packed).outputs.find((o: { name: string }) => o.name === 'label').data).toEqual(['setosa', 'virginica']);
  });

  it('inflated to exactly the body limit: read', async () => {
    const exact = `${iris.slice(0, -1)}${' '.repeat(MAX_BODY_BYTES - iris.length)}}`;
    expect(exact.length).toBe(MAX_BODY_BYTES);
    const answer = await post('/v1/models/iris:predict', gzipSync(exact), { ...OCTETS, 'content-encoding': 'gzip' });
    expect(answer.statusCode, answer.body).toBe(200);
  });

  it('a bomb (1 KB of gzip that inflates past the limit) is a 413 naming the limit', async () => {
    const over = gzipSync(`${iris.slice(0, -1)}${' '.repeat(MAX_BODY_BYTES)}}`);
    expect(over.length).toBeLessThan(10_000);
    const answer = await post('/v1/models/iris:predict', over, { ...OCTETS, 'content-encoding': 'gzip' });
    expect(answer.statusCode).toBe(413);
    expect(jsonOf(answer).error).toBe(
      'the body inflates (Content-Encoding gzip) past the limit of 6291456 bytes (6 MB uncompressed): send less in one request (fewer instances); for evaluate or fine-tune, a data set in the model store ("dataset"); to score many rows, batch scoring (an upload under batch/input/{model}/, or modelctl batch); to OIP infer, tensors as binary data (Inference-Header-Content-Length: 4 bytes a float32, where JSON takes up to 20 characters)',
    );
  });

  it('a body over the limit is a 413 saying what the client can do: binary data offered to a JSON body, not to a binary one, compressed or not', async () => {
    const json = await post('/v1/models/iris:predict', `${iris.slice(0, -1)}${' '.repeat(MAX_BODY_BYTES)}}`, OCTETS);
    expect(json.statusCode).toBe(413);
    expect(jsonOf(json).error).toMatch(
      /^the body is 6291\d{3} bytes; the limit is 6291456 \(Lambda's, for one request\): send less in one request \(fewer instances\); for evaluate or fine-tune, a data set .*; to score many rows, batch scoring .*; to OIP infer, tensors as binary data/,
    );
    const rows = Array.from({ length: (MAX_BODY_BYTES / 16 + 1) * 4 }, () => 1);
    const { body, headerLength } = binaryRequest([{ name: 'features', shape: [rows.length / 4, 4], datatype: 'FP32', values: rows }]);
    const headers = { ...OCTETS, 'inference-header-content-length': String(headerLength) };
    const binary = await post('/v2/models/iris/infer', body, headers);
    const packed = await post('/v2/models/iris/infer', gzipSync(body), { ...headers, 'content-encoding': 'gzip' });
    for (const answer of [binary, packed]) {
      expect(answer.statusCode).toBe(413);
      expect(jsonOf(answer).error).toMatch(/(the limit is 6291456|past the limit of 6291456 bytes).*: send less in one request .*modelctl batch\)$/);
    }
  });

  it('a bomb of 1 GB (1 MB of gzip members) stops inflating at the limit: a 413 at once, no gigabyte allocated', async () => {
    const member = gzipSync(Buffer.alloc(10 * 2 ** 20, 0x20));
    const bombs = { gzip: Buffer.concat(Array.from({ length: 100 }, () => member)), deflate: deflateSync(Buffer.alloc(50 * 2 ** 20, 0x20)) };
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    for (const [encoding, body] of Object.entries(bombs)) {
      const answer = await post('/v1/models/iris:predict', body, { ...OCTETS, 'content-encoding': encoding });
      expect(answer.statusCode).toBe(413);
      expect(jsonOf(answer).error).toMatch(new RegExp(`^the body inflates \\(Content-Encoding ${encoding}\\) past the limit of ${MAX_BODY_BYTES} bytes`));
    }
    expect(performance.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 2 ** 20);
  });

  it.each([
    ['not gzip at all', 'gzip', Buffer.from('{"instances":[[5.1,3.5,1.4,0.2]]}'), /^the body is not valid gzip data, as its Content-Encoding says: incorrect header check$/],
    ['a truncated gzip stream', 'gzip', gzipSync(iris).subarray(0, 20), /^the body is not valid gzip data, as its Content-Encoding says: unexpected end of file$/],
    ['a corrupt deflate stream', 'deflate', Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff, 0xff]), /^the body is not valid deflate data, as its Content-Encoding says: /],
  ])('%s is a 400 naming Content-Encoding, and no tensor is left', async (_case, encoding, body, message) => {
    const tensors = tf.memory().numTensors;
    const answer = await post('/v1/models/iris:predict', body, { 'content-type': 'application/json', 'content-encoding': encoding });
    expect(answer.statusCode).toBe(400);
    expect(jsonOf(answer).error).toMatch(message);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('gzip sent as text (its bytes altered to U+FFFD on the way): the 400 says to send application/octet-stream', async () => {
    const event = {
      ...httpApiEvent('POST', '/v1/models/iris:predict', gzipSync(iris).toString('utf8')),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    };
    const answer = (await app.predict(event)) as unknown as HttpAnswer;
    expect(answer.statusCode).toBe(400);
    expect(jsonOf(answer).error).toMatch(
      /Content-Encoding says: .*\(send a compressed body with Content-Type: application\/octet-stream; as application\/json it arrives as text and its bytes are altered\)$/,
    );
  });

  it.each(['br', 'compress', 'x-zip', 'gzip, br'])('Content-Encoding %j is a 415 naming what is read', async (encoding) => {
    const answer = await post('/v1/models/iris:predict', Buffer.from(iris), { 'content-type': 'application/json', 'content-encoding': encoding });
    expect(answer.statusCode).toBe(415);
    expect(jsonOf(answer).error).toBe(`Content-Encoding ${encoding.split(', ').at(-1)} is not accepted: send gzip, deflate or identity (uncompressed)`);
  });

  it('on every function that reads a body: explain and evaluate too', async () => {
    const explained = await post('/v2/models/iris/explain', gzipSync(iris), { ...OCTETS, 'content-encoding': 'gzip' }, app.explain);
    expect(explained.statusCode, explained.body).toBe(200);
    const labelled = JSON.stringify({ instances: [flower], labels: ['setosa'] });
    const evaluated = await post('/v2/models/iris/evaluate', gzipSync(labelled), { ...OCTETS, 'content-encoding': 'gzip' }, app.evaluate);
    expect(evaluated.statusCode, evaluated.body).toBe(200);
    expect(jsonOf(evaluated).metrics.accuracy).toBe(1);
  });
});

describe('a compressed answer', () => {
  const batch = JSON.stringify({ instances: Array.from({ length: 20 }, () => flower) });

  it('Accept-Encoding: gzip and an answer over 1 KiB: gzip, base64, Content-Encoding and Vary, x-request-id kept', async () => {
    const plain = await post('/v1/models/iris:predict', batch, { 'content-type': 'application/json' });
    expect(plain.body.length).toBeGreaterThan(1024);
    const answer = await post('/v1/models/iris:predict', batch, { 'content-type': 'application/json', 'accept-encoding': 'gzip, deflate, br' });
    expect(answer.statusCode).toBe(200);
    expect(answer.isBase64Encoded).toBe(true);
    expect(answer.headers).toMatchObject({ 'content-encoding': 'gzip', vary: 'accept-encoding', 'content-type': 'application/json', 'x-request-id': expect.any(String) });
    expect(jsonOf(answer)).toEqual(JSON.parse(plain.body));
    expect(answer.body.length).toBeLessThan(plain.body.length / 4);
  });

  it('q=0 refuses it: the answer is plain JSON', async () => {
    const answer = await post('/v1/models/iris:predict', batch, { 'content-type': 'application/json', 'accept-encoding': 'gzip;q=0, deflate;q=0' });
    expect(answer.isBase64Encoded).toBe(false);
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(answer.body).predictions).toHaveLength(20);
  });

  it('a small answer is sent as it is', async () => {
    const answer = await post('/v1/models/iris:predict', iris, { 'content-type': 'application/json', 'accept-encoding': 'gzip' });
    expect(answer.isBase64Encoded).toBe(false);
    expect(answer.headers['content-encoding']).toBeUndefined();
  });

  it('a REST API (payload 1.0) answer is not compressed: it sends base64 as bytes only for its binaryMediaTypes', async () => {
    const event = {
      httpMethod: 'POST',
      path: '/v1/models/iris:predict',
      headers: { 'Content-Type': 'application/json', 'Accept-Encoding': 'gzip' },
      body: batch,
      isBase64Encoded: false,
      requestContext: { requestId: 'rest' },
    };
    const answer = (await app.predict(event)) as unknown as HttpAnswer;
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(answer.body).predictions).toHaveLength(20);
  });
});
