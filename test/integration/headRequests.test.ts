/**
 * HEAD is GET without the answer's body (RFC 9110, 9.3.2), which a general-purpose server must
 * serve: monitors and `curl -I` probe health and metadata with it. It was a 405.
 */
import { describe, expect, it } from 'vitest';
import { routeList } from '../../lib/api/routes/index.js';
import { call, httpApiEvent, serving } from '../helpers/serving.js';

const app = serving(new URL('../../models', import.meta.url).href);
const PATH_VALUES: Record<string, string> = { model: 'iris', version: '1', alias: 'production', id: '00000000-0000-4000-8000-000000000000' };

describe('HEAD', () => {
  it.each(routeList().flatMap((spec) => (spec.method === 'GET' ? spec.paths.map((path) => [path] as const) : [])))(
    'HEAD %s: the status and headers GET answers, and no body',
    async (path) => {
      const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) => PATH_VALUES[name]);
      const [get, head] = [await app.metadata(httpApiEvent('GET', concrete)), await app.metadata(httpApiEvent('HEAD', concrete))];
      expect(head.statusCode).toBe(get.statusCode);
      expect(String(get.body).length).toBeGreaterThan(0);
      expect(head.body).toBe('');
      const { 'x-request-id': _get, ...getHeaders } = get.headers;
      const { 'x-request-id': _head, ...headHeaders } = head.headers;
      expect(headHeaders).toEqual(getHeaders);
    },
  );

  it('a path GET does not serve answers HEAD as GET would (404), and one served by POST only is a 405 naming POST', async () => {
    const missing = await app.metadata(httpApiEvent('HEAD', '/v2/models/nope'));
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toBe('');
    const infer = await app.predict(httpApiEvent('HEAD', '/v2/models/iris/infer'));
    expect(infer).toMatchObject({ statusCode: 405, headers: { allow: 'POST' }, body: '' });
  });

  it('a 405 on a path GET serves lists HEAD in Allow', async () => {
    const post = await call(app.metadata, 'POST', '/v2/health/ready', {});
    expect(post).toMatchObject({ statusCode: 405, headers: { allow: 'GET, HEAD' } });
    expect(post.body.error).toBe('POST is not allowed on /v2/health/ready: use GET, HEAD');
  });
});
