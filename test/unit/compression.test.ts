/**
 * Which coding an answer goes in (Accept-Encoding with its q-values, `*`, gzip preferred on a tie),
 * and when an answer is left as it is: small, not taken, or not smaller compressed (a PNG).
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chosenCoding, compressed, MIN_COMPRESSED_BYTES } from '../../lib/http/compression.js';

describe('Accept-Encoding', () => {
  it.each([
    ['gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['gzip, deflate, br', 'gzip'],
    ['deflate, gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['br', undefined],
    ['*', 'gzip'],
    ['br;q=1.0, *;q=0.5', 'gzip'],
    ['gzip;q=0', undefined],
    ['gzip;q=0, deflate', 'deflate'],
    ['gzip;q=0.0, deflate;q=0.000', undefined],
    ['gzip; q=0.5, deflate; q=0.8', 'deflate'],
    ['*;q=0', undefined],
    ['*, gzip;q=0', 'deflate'],
    ['identity', undefined],
    ['identity;q=0, gzip', 'gzip'],
    ['x-gzip', 'gzip'],
    ['gzip;q=abc', undefined],
    ['gzip;q=2, deflate', 'deflate'],
    ['', undefined],
  ])('%j answers in %s', (header, coding) => {
    expect(chosenCoding(header)).toBe(coding);
  });

  it('no header: no compression', () => {
    expect(chosenCoding(undefined)).toBeUndefined();
  });
});

describe('compressed answers', () => {
  const json = JSON.stringify({ predictions: Array.from({ length: 200 }, (_, i) => ({ label: 'setosa', score: i / 200 })) });
  const answer = (body: string, extra: { headers?: Record<string, string>; isBase64Encoded?: boolean } = {}) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'x-request-id': 'r1' } as Record<string, string>,
    body,
    isBase64Encoded: false,
    ...extra,
  });

  it('gzip: base64 of the compressed bytes, Content-Encoding and Vary, the other headers kept', () => {
    const result = compressed(answer(json), 'gzip, deflate');
    expect(result.isBase64Encoded).toBe(true);
    expect(result.headers).toEqual({ 'content-type': 'application/json', 'x-request-id': 'r1', 'content-encoding': 'gzip', vary: 'accept-encoding' });
    expect(gunzipSync(Buffer.from(result.body, 'base64')).toString()).toBe(json);
    expect(result.body.length).toBeLessThan(json.length / 4);
  });

  it('deflate is the zlib format', () => {
    const result = compressed(answer(json), 'deflate');
    expect(result.headers['content-encoding']).toBe('deflate');
    expect(inflateSync(Buffer.from(result.body, 'base64')).toString()).toBe(json);
  });

  it('not taken (q=0): as it was, still saying it varies', () => {
    const result = compressed(answer(json), 'gzip;q=0');
    expect(result.body).toBe(json);
    expect(result.isBase64Encoded).toBe(false);
    expect(result.headers['content-encoding']).toBeUndefined();
    expect(result.headers.vary).toBe('accept-encoding');
  });

  it(`under ${MIN_COMPRESSED_BYTES} bytes: as it was`, () => {
    const small = json.slice(0, MIN_COMPRESSED_BYTES - 1);
    expect(compressed(answer(small), 'gzip')).toEqual(answer(small));
    expect(compressed(answer(json.slice(0, MIN_COMPRESSED_BYTES)), 'gzip').headers['content-encoding']).toBe('gzip');
  });

  it('bytes that do not shrink (a PNG is compressed already) go as they were', () => {
    const png = randomBytes(4096).toString('base64');
    const result = compressed(answer(png, { isBase64Encoded: true, headers: { 'content-type': 'image/png' } }), 'gzip');
    expect(result.body).toBe(png);
    expect(result.headers['content-encoding']).toBeUndefined();
  });

  it('a binary answer that shrinks is compressed from its bytes, not from their base64', () => {
    const bytes = Buffer.alloc(8192, 7);
    const result = compressed(answer(bytes.toString('base64'), { isBase64Encoded: true }), 'gzip');
    expect(result.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(Buffer.from(result.body, 'base64'))).toEqual(bytes);
  });

  it('a Vary the answer has is kept', () => {
    expect(compressed(answer(json, { headers: { vary: 'origin' } }), 'gzip').headers.vary).toBe('origin, accept-encoding');
  });
});
