/**
 * A cold load from a store that answers slowly (here every read 1.5 s late, as one answering each
 * call on its last attempt would) must not run a request past its function's timeout: API Gateway
 * would answer 504 after the whole wait, and Lambda would end the execution environment with the
 * load, so the next request would start cold again. The request gets a 503 with Retry-After before
 * its time is up, the load goes on, and the retry is answered from the model it loaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { type ProxiedS3, startProxiedS3 } from '../helpers/proxiedS3.js';
import type { S3rverHandle } from '../helpers/s3rver.js';
import { httpApiEvent, serving, type App } from '../helpers/serving.js';

const IRIS = JSON.stringify({ instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] });
const READ_DELAY_MS = 1500;

let setting: ProxiedS3 | undefined;
let s3: S3rverHandle;
let proxy: ConditionalS3Proxy;
let app: App;
const reads: string[] = [];

beforeAll(async () => {
  setting = await startProxiedS3(['iris', 'digits']);
  ({ s3, proxy } = setting);
  app = serving(s3.uri, { S3_ENDPOINT: proxy.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  proxy.hold((request) => {
    if (request.method !== 'GET') return undefined;
    reads.push(request.path);
    return new Promise((resolve) => setTimeout(resolve, READ_DELAY_MS));
  });
});
afterAll(() => setting?.stop());

/** A predict (or another route) as Lambda runs it, with `budgetMs` left before the function's timeout. */
async function predictWithin(budgetMs: number, handler = app.predict, event = httpApiEvent('POST', '/v1/models/iris:predict', IRIS)) {
  const deadline = Date.now() + budgetMs;
  const started = performance.now();
  const answer = (await handler(event, {
    awsRequestId: 'slow-store',
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as never)) as { statusCode: number; headers: Record<string, string>; body: string };
  return { ...answer, ms: performance.now() - started };
}

describe('a cold load from a slow store', () => {
  it('answers 503 with Retry-After before the function times out, and the load it started answers the retry', async () => {
    const first = await predictWithin(6000);
    expect(first.statusCode, first.body).toBe(503);
    expect(Number(first.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(first.body).error).toMatch(/model iris is still loading from the model store; retry in a few seconds/);
    // Its time less what is kept for the work and the answer (a quarter of 6 s): answered at about
    // 4.5 s, before the function's time is up (the unbounded load answered after 6.2 s); not at once.
    expect(first.ms).toBeLessThan(6000);
    expect(first.ms).toBeGreaterThan(2500);

    // The load went on after the 503: the model is loaded without another request asking.
    const loaded = Date.now() + 30_000;
    while (!app.services.loader.cache.isLoaded('iris:1') && Date.now() < loaded) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(app.services.loader.cache.isLoaded('iris:1')).toBe(true);
    const weightReads = reads.filter((path) => path.endsWith('.bin')).length;

    const retry = await predictWithin(6000);
    expect(retry.statusCode, retry.body).toBe(200);
    expect(JSON.parse(retry.body).predictions[0].label).toBe('setosa');
    // From memory: the weights were read once, by the load the first request started.
    expect(reads.filter((path) => path.endsWith('.bin')).length).toBe(weightReads);
    expect(weightReads).toBe(1);
  });

  it("TF Serving's status of a version whose load outlasts the request is LOADING (200), not a 503; AVAILABLE once loaded", async () => {
    const status = () => predictWithin(6000, app.metadata, httpApiEvent('GET', '/v1/models/digits/versions/1'));
    const first = await status();
    expect([first.statusCode, JSON.parse(first.body)]).toEqual([
      200,
      { model_version_status: [{ version: '1', state: 'LOADING', status: { error_code: 'OK', error_message: '' } }] },
    ]);
    const loaded = Date.now() + 30_000;
    while (!app.services.loader.cache.isLoaded('digits:1') && Date.now() < loaded) await new Promise((resolve) => setTimeout(resolve, 200));
    const then = await status();
    expect(JSON.parse(then.body).model_version_status[0].state).toBe('AVAILABLE');
  });
});
