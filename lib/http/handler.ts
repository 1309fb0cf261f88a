/**
 * The shared Lambda wrapper: event -> request -> route -> reply, errors mapped in one place,
 * a request id on every answer and log line, one latency metric per request.
 */
import type { Context } from 'aws-lambda';
import { errorReply } from './errors.js';
import { logger, recordRequest } from '../observability.js';
import { toHttpRequest, type HttpRequest } from './request.js';
import { createRouter, type Reply, type Route } from './router.js';

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  /** A string for API Gateway; for a direct invocation, the JSON value itself. */
  body: unknown;
  isBase64Encoded?: boolean;
}

function encode(request: HttpRequest | undefined, reply: Reply, requestId: string): HttpResult {
  const status = reply.status ?? 200;
  const contentType = reply.contentType ?? 'application/json';
  const headers = { 'content-type': contentType, 'x-request-id': requestId, ...reply.headers };
  // Bytes (a PNG) travel base64-encoded, as API Gateway expects them, on every event source.
  if (reply.body instanceof Uint8Array) return { statusCode: status, headers, body: Buffer.from(reply.body).toString('base64'), isBase64Encoded: true };
  const isJson = contentType === 'application/json';
  if (request?.source === 'direct') return { statusCode: status, headers, body: reply.body };
  return { statusCode: status, headers, body: isJson ? JSON.stringify(reply.body) : String(reply.body), isBase64Encoded: false };
}

export type HttpHandler = (event: unknown, context?: Partial<Context>) => Promise<HttpResult>;

export function httpHandler(routes: Route[]): HttpHandler {
  const route = createRouter(routes);
  return async (event, context) => {
    const started = performance.now();
    let request: HttpRequest | undefined;
    let routeName = 'unmatched';
    let reply: Reply;
    try {
      request = toHttpRequest(event, context);
      logger.appendKeys({ requestId: request.requestId, gatewayRequestId: request.gatewayRequestId });
      const match = route(request);
      routeName = `${match.route.method} ${match.route.path}`;
      reply = await match.route.handle({ ...request, params: match.params });
    } catch (error) {
      reply = errorReply(error, request?.requestId ?? context?.awsRequestId ?? 'unknown');
    }
    const millis = performance.now() - started;
    const status = reply.status ?? 200;
    logger.info('request', { method: request?.method, path: request?.path, route: routeName, status, millis: Math.round(millis * 10) / 10 });
    recordRequest(routeName, status, millis);
    return encode(request, reply, request?.requestId ?? context?.awsRequestId ?? 'unknown');
  };
}
