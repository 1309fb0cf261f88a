/**
 * An answer over Lambda's 6 MB payload limit would reach an API Gateway client as a bare 5xx (the
 * invocation fails after the work is done): the handler answers 413 saying what to ask for instead.
 * The case is a real one: an explanation of a long text has an entry per word occurrence. A client
 * that takes a compressed answer (Accept-Encoding: gzip) gets it when its compressed bytes fit.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { callHttpApi, httpApiEvent, serving, type Handler } from '../helpers/serving.js';

const app = serving(new URL('../../models', import.meta.url).href);
const text = (bytes: number) => 'free money click here now '.repeat(Math.ceil(bytes / 26)).slice(0, bytes);

describe('answers over the payload limit', () => {
  it('an explanation of a 500 KB text (about 7 MB of answer) is a 413 naming the size and the limit', async () => {
    const answer = await callHttpApi(app.predict as Handler, 'POST', '/v1/models/spam:explain', JSON.stringify({ instances: [text(500_000)] }));
    expect(answer.statusCode).toBe(413);
    expect(answer.body.error).toMatch(/^the answer would be up to \d+\.\d MB, over the 6\.0 MB a Lambda function can return: not even one instance fits/);
    expect(answer.body.error).toMatch(/, or ask for a compressed answer \(Accept-Encoding: gzip\)$/);
    expect(Number(/would be up to ([\d.]+) MB/.exec(answer.body.error)?.[1])).toBeGreaterThan(6);
  }, 60_000);

  it('the same explanation asked with Accept-Encoding: gzip fits compressed: a 200, all of it', async () => {
    const event = {
      ...httpApiEvent('POST', '/v1/models/spam:explain', JSON.stringify({ instances: [text(500_000)] })),
      headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' },
    };
    const answer = (await (app.predict as Handler)(event)) as { statusCode: number; headers: Record<string, string>; body: string; isBase64Encoded?: boolean };
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-encoding']).toBe('gzip');
    // What Lambda returns (the JSON of the whole result) is within its limit; the answer inflated is not.
    expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThan(6 * 2 ** 20);
    const inflated = gunzipSync(Buffer.from(answer.body, 'base64'));
    expect(inflated.length).toBeGreaterThan(6 * 2 ** 20);
    expect(JSON.parse(inflated.toString('utf8')).data.explanations[0].tokens.length).toBeGreaterThan(90_000);
  }, 60_000);

  it('a large answer within the limit is sent as it is', async () => {
    const answer = await callHttpApi(app.predict as Handler, 'POST', '/v1/models/spam:explain', JSON.stringify({ instances: [text(200_000)] }));
    expect(answer.statusCode).toBe(200);
    expect(JSON.stringify(answer.body).length).toBeGreaterThan(2 ** 20); // past the fast path: measured, and let through
  }, 60_000);
});
