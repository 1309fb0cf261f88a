/**
 * Query parameters a route does not take are refused, on every route: ignored, `?alias=nope` on TF
 * Serving's :predict was answered 200 from production and `?version=99` from version 1, as if they
 * had been served. The 400 names the parameter and the ones the route takes (and the path that
 * takes a version or an alias, on TF Serving's routes); the parameters a route takes still work.
 */
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lib/api/openapi.js';
import { routeList } from '../../lib/api/routes/index.js';
import { call, httpApiEvent, serving, type Answer } from '../helpers/serving.js';

const app = serving(new URL('../../models', import.meta.url).href);
const IRIS = { instances: [[5.1, 3.5, 1.4, 0.2]] };
const document = (await openApiDocument()) as { paths: unknown };

const PATH_VALUES: Record<string, string> = { model: 'iris', version: '1', alias: 'production', id: '00000000-0000-4000-8000-000000000000' };

/** A request with a query string, as HTTP API delivers it. */
async function viaHttpApi(fn: 'predict' | 'explain', method: string, path: string, query: Record<string, string>, body: unknown): Promise<Answer> {
  const event = { ...httpApiEvent(method, path, JSON.stringify(body)), rawQueryString: new URLSearchParams(query).toString(), queryStringParameters: query };
  const answer = await app[fn](event);
  return { ...answer, body: JSON.parse(answer.body as string) } as Answer;
}

describe('query parameters a route does not take', () => {
  it.each(routeList().flatMap((spec) => spec.paths.map((path) => [spec.id, spec.method, path, spec] as const)))(
    '%s %s %s: a 400 naming the parameter and the ones the route takes',
    async (_id, method, path, spec) => {
      const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) => PATH_VALUES[name]);
      const answer = await call(app[spec.fn], method, `${concrete}?zz=1`, spec.body ? {} : undefined);
      // A path that names the version takes no ?alias= (below).
      const takes = Object.keys(spec.query.shape).filter((name) => !(name === 'alias' && path.includes('{version}')));
      expect(answer.statusCode).toBe(400);
      expect(answer.body.error).toBe(`unknown query parameter zz: this route takes ${takes.length ? takes.join(', ') : 'none'}`);
    },
  );

  it.each([
    ['/v1/models/iris:predict', { alias: 'nope' }, 'unknown query parameter alias: this route takes none (alias goes in the path: /v1/models/{model}/labels/{alias}:predict)'],
    [
      '/v1/models/iris:predict',
      { version: '99' },
      'unknown query parameter version: this route takes none (version goes in the path: /v1/models/{model}/versions/{version}:predict)',
    ],
    ['/v1/models/iris:explain', { alias: 'nope' }, 'unknown query parameter alias: this route takes format (alias goes in the path: /v1/models/{model}/labels/{alias}:explain)'],
    ['/v2/models/iris/infer', { async: 'true', format: 'png' }, 'unknown query parameters async, format: this route takes alias'],
  ])('POST %s %j: %s (it was served from the default version)', async (path, query, error) => {
    const answer = await viaHttpApi('predict', 'POST', path, query, IRIS);
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toBe(error);
  });

  it.each(
    routeList().flatMap((spec) =>
      spec.paths.filter((path) => path.includes('{version}') && 'alias' in spec.query.shape).map((path) => [spec.id, spec.method, path, spec] as const),
    ),
  )('%s %s %s?alias=: a 400, as the path names the version (it was served from the version, the alias ignored)', async (_id, method, path, spec) => {
    const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) => PATH_VALUES[name]);
    const answer = await call(app[spec.fn], method, `${concrete}?alias=nope`, spec.body ? IRIS : undefined);
    const takes = Object.keys(spec.query.shape).filter((name) => name !== 'alias');
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toBe(`unknown query parameter alias: this route takes ${takes.length ? takes.join(', ') : 'none'} (the path names version 1)`);
    // and the OpenAPI document lists the parameters this path takes
    const operation = (document.paths as Record<string, Record<string, { parameters: { name: string; in: string }[] }>>)[path][method.toLowerCase()];
    expect(operation.parameters.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(takes);
  });

  it("a request signed in its query string (a presigned URL) is not refused for SigV4's parameters", async () => {
    const signed = {
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20261201/us-east-1/execute-api/aws4_request',
      'X-Amz-Date': '20261201T000000Z',
      'X-Amz-Expires': '300',
      'X-Amz-SignedHeaders': 'host',
      'X-Amz-Signature': 'f'.repeat(64),
      'X-Amz-Security-Token': 'token',
    };
    const answer = await viaHttpApi('predict', 'POST', '/v1/models/iris:predict', signed, IRIS);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    const refused = await viaHttpApi('predict', 'POST', '/v1/models/iris:predict', { ...signed, zz: '1' }, IRIS);
    expect(refused.body.error).toBe('unknown query parameter zz: this route takes none');
  });

  it('fine-tune refuses ?async=false: it always runs as a job, and the parameter is not one it takes', async () => {
    const answer = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune?async=false', {});
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toBe('unknown query parameter async: this route takes alias');
  });
});

describe('query parameters a route takes', () => {
  it('?alias= on v2 still picks the alias (an unknown one is a 404), and a bad value is a 400 naming the parameter', async () => {
    expect((await viaHttpApi('explain', 'POST', '/v2/models/iris/explain', { alias: 'nope' }, IRIS)).statusCode).toBe(404);
    const served = await viaHttpApi(
      'predict',
      'POST',
      '/v2/models/iris/infer',
      { alias: 'production' },
      { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] },
    );
    expect(served.statusCode).toBe(200);
    expect(served.body.model_version).toBe('1');
    const bad = await viaHttpApi('explain', 'POST', '/v2/models/iris/explain', { format: 'gif' }, IRIS);
    expect(bad.statusCode).toBe(400);
    expect(bad.body.error).toMatch(/^format: .*"json"\|"png"/);
  });
});

describe('a query parameter given more than once', () => {
  const V2_INFER = { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] };
  const ONCE = 'query parameter alias is given more than once: give it once';

  it('through HTTP API (joined by a comma in queryStringParameters, as API Gateway joins it): a 400 saying so, not "a,b" read as a name', async () => {
    const event = {
      ...httpApiEvent('POST', '/v2/models/iris/infer', JSON.stringify(V2_INFER)),
      rawQueryString: 'alias=production&alias=latest',
      queryStringParameters: { alias: 'production,latest' },
    };
    const answer = await app.predict(event);
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body as string).error).toBe(ONCE);
  });

  it('the same value twice is refused too, and a route that takes no such parameter names it unknown instead', async () => {
    const event = (rawQueryString: string, path: string) => ({
      ...httpApiEvent('POST', path, JSON.stringify(V2_INFER)),
      rawQueryString,
      queryStringParameters: Object.fromEntries(new URLSearchParams(rawQueryString)),
    });
    const twice = await app.predict(event('alias=production&alias=production', '/v2/models/iris/infer'));
    expect(JSON.parse(twice.body as string).error).toBe(ONCE);
    const unknown = await app.predict(event('zz=1&zz=2', '/v2/models/iris/infer'));
    expect(JSON.parse(unknown.body as string).error).toBe('unknown query parameter zz: this route takes alias');
    // A name every object inherits is no parameter the route takes either.
    const inherited = await app.predict(event('toString=1&toString=2', '/v2/models/iris/infer'));
    expect(JSON.parse(inherited.body as string).error).toBe('unknown query parameter toString: this route takes alias');
    // one value each is served
    expect((await app.predict(event('alias=production', '/v2/models/iris/infer'))).statusCode).toBe(200);
  });

  it('through REST API (its multiValueQueryStringParameters) and a direct invocation (its path)', async () => {
    const rest = await app.explain({
      httpMethod: 'POST',
      path: '/v2/models/iris/explain',
      headers: { 'content-type': 'application/json' },
      queryStringParameters: { format: 'png', alias: 'latest' },
      multiValueQueryStringParameters: { format: ['json', 'png'], alias: ['production', 'latest'] },
      body: JSON.stringify(IRIS),
    });
    expect(rest.statusCode).toBe(400);
    expect(JSON.parse(rest.body as string).error).toBe('query parameters format, alias are given more than once: give each once');
    const direct = await call(app.predict, 'POST', '/v2/models/iris/infer?alias=production&alias=latest', V2_INFER);
    expect(direct.statusCode).toBe(400);
    expect(direct.body.error).toBe(ONCE);
  });
});
