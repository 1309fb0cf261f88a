/** The OpenAPI document says which routes take a compressed body and that every route answers compressed. */
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lib/api/openapi.js';

type Operation = {
  parameters: { name: string; in: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { description: string; headers?: Record<string, unknown> }>;
};

describe('OpenAPI: content codings', () => {
  it('a route with a body lists Content-Encoding and Accept-Encoding; a GET only Accept-Encoding', async () => {
    const paths = (await openApiDocument()) as unknown as { paths: Record<string, Record<string, Operation>> };
    const headers = (operation: Operation) => operation.parameters.filter((p) => p.in === 'header').map((p) => p.name);
    const infer = paths.paths['/v2/models/{model}/infer'].post;
    expect(headers(infer)).toEqual(['Inference-Header-Content-Length', 'Content-Encoding', 'Accept-Encoding']);
    expect(headers(paths.paths['/v2/models/{model}'].get)).toEqual(['Accept-Encoding']);
    expect(infer.responses['415'].description).toMatch(/^a Content-Encoding other than gzip, deflate or identity, or a body of a type that is not read \(a form upload/);
    // a GET has no body to be compressed or to run the model on: no 415, no 422 (it listed both)
    // API Gateway's own refusals (authorizers) are listed too
    expect(Object.keys(paths.paths['/v2/models/{model}'].get.responses)).toEqual(['200', '400', '401', '403', '404', '413', '429', '500', '503']);
  });

  it('answers list their headers, and a body may come compressed as application/octet-stream', async () => {
    const { paths } = (await openApiDocument()) as unknown as { paths: Record<string, Record<string, Operation>> };
    const operations = Object.values(paths).flatMap((methods) => Object.values(methods));
    for (const operation of operations) {
      for (const response of Object.values(operation.responses))
        expect(Object.keys(response.headers ?? {})).toEqual(expect.arrayContaining(['x-request-id', 'Content-Encoding', 'Vary']));
      expect(Object.keys(operation.responses['503'].headers ?? {})).toContain('Retry-After');
      if (operation.requestBody) expect(Object.keys(operation.requestBody.content)).toEqual(['application/json', 'application/octet-stream']);
    }
    expect(Object.keys(paths['/v2/models/{model}/infer'].post.responses['200'].headers ?? {})).toContain('Inference-Header-Content-Length');
    // a route's own 403 (a refusal of ours) is kept, not replaced by the gateway's
    expect(paths['/v2/models/{model}/evaluate'].post.responses['403'].description).toMatch(/data set outside the model store/);
  });
});
