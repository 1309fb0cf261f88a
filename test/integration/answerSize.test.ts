/**
 * An answer over Lambda's 6 MB payload limit would reach an API Gateway client as a bare 5xx (the
 * invocation fails after the work is done): the handler answers 413 saying what to ask for instead.
 * The case is a real one: an explanation of a long text has an entry per word occurrence.
 */
import { describe, expect, it } from 'vitest';
import { callHttpApi, serving, type Handler } from '../helpers/serving.js';

const app = serving(new URL('../../models', import.meta.url).href);
const text = (bytes: number) => 'free money click here now '.repeat(Math.ceil(bytes / 26)).slice(0, bytes);

describe('answers over the payload limit', () => {
  it('an explanation of a 500 KB text (about 7 MB of answer) is a 413 naming the size and the limit', async () => {
    const answer = await callHttpApi(app.predict as Handler, 'POST', '/v1/models/spam:explain', JSON.stringify({ instances: [text(500_000)] }));
    expect(answer.statusCode).toBe(413);
    expect(answer.body.error).toMatch(/^the answer would be \d+\.\d MB, over the 6\.0 MB a Lambda function can return: ask for less/);
    expect(Number(/would be ([\d.]+) MB/.exec(answer.body.error)?.[1])).toBeGreaterThan(6);
  }, 60_000);

  it('a large answer within the limit is sent as it is', async () => {
    const answer = await callHttpApi(app.predict as Handler, 'POST', '/v1/models/spam:explain', JSON.stringify({ instances: [text(200_000)] }));
    expect(answer.statusCode).toBe(200);
    expect(JSON.stringify(answer.body).length).toBeGreaterThan(2 ** 20); // past the fast path: measured, and let through
  }, 60_000);
});
