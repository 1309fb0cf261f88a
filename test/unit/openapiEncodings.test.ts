/** The OpenAPI document says which routes take a compressed body and that every route answers compressed. */
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lib/api/openapi.js';

type Operation = { parameters: { name: string; in: string }[]; responses: Record<string, { description: string }> };

describe('OpenAPI: content codings', () => {
  it('a route with a body lists Content-Encoding and Accept-Encoding; a GET only Accept-Encoding', async () => {
    const paths = (await openApiDocument()) as unknown as { paths: Record<string, Record<string, Operation>> };
    const headers = (operation: Operation) => operation.parameters.filter((p) => p.in === 'header').map((p) => p.name);
    const infer = paths.paths['/v2/models/{model}/infer'].post;
    expect(headers(infer)).toEqual(['Inference-Header-Content-Length', 'Content-Encoding', 'Accept-Encoding']);
    expect(headers(paths.paths['/v2/models/{model}'].get)).toEqual(['Accept-Encoding']);
    expect(infer.responses['415'].description).toBe('a Content-Encoding other than gzip, deflate or identity');
    // a GET has no body to be compressed or to run the model on: no 415, no 422 (it listed both)
    expect(Object.keys(paths.paths['/v2/models/{model}'].get.responses)).toEqual(['200', '400', '404', '413', '429', '500', '503']);
  });
});
