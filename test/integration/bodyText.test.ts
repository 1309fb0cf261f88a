/**
 * A JSON body is UTF-8 text (RFC 8259). One whose bytes are not (a Latin-1 "é" in a text sent to
 * the spam model) is a 400 saying so, on every route that reads JSON, as OIP's binary BYTES and data
 * files refuse such bytes: not a 200 on the text with a replacement character the client never sent.
 * Through the handlers as API Gateway's HTTP API delivers a body it passes base64-encoded.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { httpApiEvent, serving, type App } from '../helpers/serving.js';

let app: App;
beforeAll(() => (app = serving(new URL('../../models', import.meta.url).href)));

const latin1 = (json: string) => Buffer.from(json, 'latin1');
const utf8 = (json: string) => Buffer.from(json, 'utf8');

/** The body as API Gateway passes bytes: base64-encoded, with the request's headers. */
async function send(handler: keyof App, path: string, bytes: Buffer, headers: Record<string, string> = {}) {
  const event = { ...httpApiEvent('POST', path), headers: { 'content-type': 'application/json', ...headers }, body: bytes.toString('base64'), isBase64Encoded: true };
  const result = (await (app[handler] as (e: unknown) => Promise<{ statusCode: number; body: string }>)(event)) as { statusCode: number; body: string };
  return { status: result.statusCode, body: JSON.parse(result.body) };
}

const CAFE = 'Free coffee at the caf\u00e9 tonight';

describe('a body that is not UTF-8', () => {
  it.each([
    ['TF Serving predict', 'predict', '/v1/models/spam:predict', JSON.stringify({ instances: [CAFE] }), {}],
    ['OIP infer', 'predict', '/v2/models/spam/infer', JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [CAFE] }] }), {}],
    ['classify', 'predict', '/v1/models/spam:classify', JSON.stringify({ examples: [{ text: CAFE }] }), {}],
    ['evaluate', 'evaluate', '/v2/models/spam/evaluate', JSON.stringify({ instances: [CAFE], labels: ['spam'] }), {}],
    ['explain', 'explain', '/v2/models/spam/explain', JSON.stringify({ instances: [CAFE] }), {}],
    ['gzip-compressed predict', 'predict', '/v1/models/spam:predict', JSON.stringify({ instances: [CAFE] }), { 'content-encoding': 'gzip' }],
  ] as const)('%s: a 400 saying so; the same text in UTF-8 is answered', async (_case, handler, path, json, headers) => {
    const encode = (bytes: Buffer) => ('content-encoding' in headers ? gzipSync(bytes) : bytes);
    const refused = await send(handler, path, encode(latin1(json)), headers);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('the body is not valid UTF-8 text: JSON is UTF-8; send its text in UTF-8');
    expect((await send(handler, path, encode(utf8(json)), headers)).status).toBe(200);
  });
});

describe('a body that starts with a byte-order mark (a file an editor saved "UTF-8 with BOM")', () => {
  it('is read without it, as RFC 8259 lets a parser: the same answer as the body without one', async () => {
    const json = JSON.stringify({ instances: [CAFE] });
    const plain = await send('predict', '/v1/models/spam:predict', utf8(json));
    const marked = await send('predict', '/v1/models/spam:predict', utf8(`\uFEFF${json}`));
    expect(plain.status).toBe(200);
    expect(marked).toEqual(plain);
    // Only at the start: inside the text, it is the text's own.
    expect((await send('predict', '/v1/models/spam:predict', utf8(` \uFEFF${json}`))).status).toBe(400);
  });
});

describe('an OIP binary request whose JSON header is not UTF-8', () => {
  it('is a 400 saying so; the same header in UTF-8 is answered', async () => {
    const header = (encode: (json: string) => Buffer) => {
      const json = encode(JSON.stringify({ id: 'caf\u00e9', inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }));
      const body = Buffer.concat([json, Buffer.from(new Float32Array([5.1, 3.5, 1.4, 0.2]).buffer)]);
      return send('predict', '/v2/models/iris/infer', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) });
    };
    const refused = await header(latin1);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^the JSON header \(the first \d+ bytes\) is not valid UTF-8 text/);
    expect((await header(utf8)).status).toBe(200);
  });
});

describe('a body that is a file, not JSON', () => {
  const png = Buffer.from(JSON.parse(readFileSync(new URL('../../models/_datasets/digits-test.jsonl', import.meta.url), 'utf8').split('\n')[0]).image.b64 as string, 'base64');
  const jpeg = readFileSync(new URL('../fixtures/jpeg/grey.jpg', import.meta.url));
  const imageInJson =
    /in JSON an image is \{"b64": "<the file in base64>"\}.*POST \/v2\/models\/\{model\}\/infer also takes the file itself as the body, with Inference-Header-Content-Length: 0$/;

  it.each([
    ['a PNG sent as application/json', png, 'application/json', 400, /^the body is a PNG file, not JSON: /],
    ['a JPEG sent as application/octet-stream', jpeg, 'application/octet-stream', 400, /^the body is a JPEG file, not JSON: /],
    ['a JPEG sent as image/jpeg', jpeg, 'image/jpeg', 415, /^an image\/jpeg body is not read here; /],
    [
      'a form upload (curl -F)',
      Buffer.concat([Buffer.from('--x\r\nContent-Disposition: form-data; name="image"; filename="7.png"\r\n\r\n'), png, Buffer.from('\r\n--x--\r\n')]),
      'multipart/form-data; boundary=x',
      415,
      /^a form upload \(multipart\/form-data, as curl -F sends\) is not read; send JSON: /,
    ],
  ])('%s: a %i saying how to send an image (it was a parse error at the first byte)', async (_case, bytes, contentType, status, start) => {
    for (const path of ['/v1/models/digits:predict', '/v2/models/digits/infer']) {
      const answer = await send('predict', path, bytes, { 'content-type': contentType });
      expect(answer.status).toBe(status);
      expect(answer.body.error).toMatch(start);
      expect(answer.body.error).toMatch(imageInJson);
    }
  });

  it('a JPEG that arrived as text is told by the replacement characters and the JFIF or Exif name left of its header', async () => {
    const event = { ...httpApiEvent('POST', '/v1/models/digits:predict', jpeg.toString('utf8')), headers: { 'content-type': 'application/json' } };
    const error = JSON.parse(((await app.predict(event)) as { body: string }).body).error;
    expect(error).toMatch(/^the body is a JPEG file, not JSON: /);
  });

  it('a PNG that arrived as text (a local server decodes it as UTF-8) is still told by what is left of its signature', async () => {
    const event = { ...httpApiEvent('POST', '/v1/models/digits:predict', png.toString('utf8')), headers: { 'content-type': 'image/png' } };
    const result = (await app.predict(event)) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(415);
    const asJson = { ...event, headers: { 'content-type': 'application/json' } };
    expect(JSON.parse(((await app.predict(asJson)) as { body: string }).body).error).toMatch(/^the body is a PNG file, not JSON: /);
  });
});
