import { describe, expect, it } from 'vitest';
import { createRouter, type Route } from '../../lib/http/router.js';

const route = (method: Route['method'], path: string): Route => ({ method, path, handle: async () => ({ body: null }) });
const router = createRouter([route('PUT', '/v2/models/{name}/aliases/{alias}'), route('POST', '/v1/models/{name}:predict'), route('GET', '/v2/models/{name}')]);
const request = (method: string, path: string) => ({ method, path, headers: {}, query: {} }) as unknown as Parameters<typeof router>[0];

describe('router', () => {
  it('decodes each segment: an encoded : still ends a TF Serving name, an encoded / stays inside the name', () => {
    expect(router(request('POST', '/v1/models/iris%3Apredict')).params).toEqual({ name: 'iris' });
    // %2F is part of the alias (whose own check refuses it with a 400), not a path separator that routes to no route at all.
    expect(router(request('PUT', '/v2/models/iris/aliases/a%2Fb')).params).toEqual({ name: 'iris', alias: 'a/b' });
    expect(router(request('GET', '/v2/models/100%25')).params).toEqual({ name: '100%' });
    expect(router(request('GET', '/v2/models/a%252F')).params).toEqual({ name: 'a%2F' });
  });

  it('refuses malformed percent-encoding with a 400', () => {
    expect(() => router(request('GET', '/v2/models/%E0%A4%A'))).toThrow(expect.objectContaining({ statusCode: 400 }));
  });
});
