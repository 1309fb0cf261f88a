/**
 * The shared Lambda wrapper: event -> request -> route -> reply, errors mapped in one place,
 * a request id on every answer and log line, one latency metric per request.
 */
import type { Context } from 'aws-lambda';
import { megabytesOver } from '../bytes.js';
import { PayloadTooLargeError } from '../errors.js';
import { MAX_BODY_BYTES } from './body.js';
import { chosenCoding, compressed } from './compression.js';
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
  return { statusCode: status, headers, body: isJson ? (reply.jsonText?.() ?? JSON.stringify(reply.body)) : String(reply.body), isBase64Encoded: false };
}

/**
 * The bytes Lambda would return for an API Gateway answer (the JSON of the whole result), or
 * undefined when it is surely within the limit: one UTF-16 unit of the body is at most 6 bytes of
 * that JSON (a control character escaped as \u0000; UTF-8 takes at most 3), and the rest of the
 * result (status, a few headers) is far below 4 KiB.
 */
function oversized(result: HttpResult): number | undefined {
  // A direct invocation's answer is an object (a developer's tool, whose caller sees Lambda's own
  // error): measuring it would cost a second JSON.stringify of every answer.
  if (typeof result.body !== 'string' || result.body.length * 6 + 4096 <= MAX_BODY_BYTES) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(result));
  return bytes > MAX_BODY_BYTES ? bytes : undefined;
}

/**
 * An answer over Lambda's limit would reach the client as API Gateway's bare 5xx: a 413 says what to
 * do, including, for a client that did not take one, asking for a compressed answer. `about`: the
 * size is extrapolated from the answer's first rows (predict's, api/answerAhead.ts).
 */
export function answerTooLarge(bytes: number, couldCompress: boolean, reply: Pick<Reply, 'noun' | 'tooLargeAdvice'>, about = false): PayloadTooLargeError {
  const advice = reply.tooLargeAdvice?.(bytes) ?? `ask for less in one request (fewer ${reply.noun ?? 'instances'}, shorter texts, fewer outputs)`;
  const [answer, most] = megabytesOver(bytes, MAX_BODY_BYTES);
  return new PayloadTooLargeError(
    `the answer would be ${about ? 'about ' : ''}${answer}, over the ${most} a Lambda function can return: ${advice}${couldCompress ? ', or ask for a compressed answer (Accept-Encoding: gzip)' : ''}`,
  );
}

/**
 * Only an HTTP API's answers are compressed: it always sends a base64 answer as bytes. A REST API
 * does so only for the binaryMediaTypes it was configured with, and has a compression of its own;
 * a direct invocation's answer is a JSON value, not bytes.
 */
const compresses = (request: HttpRequest | undefined): request is HttpRequest => request?.source === 'httpApi';

/**
 * The bytes a route's answer may take, for a route that can tell ahead (explain, whose answer is
 * built whole and only then measured above): Lambda's limit, counted as `oversized` counts it. An
 * answer the client takes compressed is marked so: the limit counts the compressed bytes sent, and
 * no bound on them is known ahead (an answer of zeros compresses a thousandfold), so the route
 * bounds its JSON by the memory building it takes instead. `otherwise`: what else could let a
 * larger answer through.
 */
export function answerLimitFor(request: HttpRequest): { bytes: number; otherwise?: string; compressed?: boolean } {
  if (compresses(request) && chosenCoding(request.headers['accept-encoding']) !== undefined) return { bytes: MAX_BODY_BYTES, compressed: true };
  return { bytes: MAX_BODY_BYTES, ...(compresses(request) ? { otherwise: 'ask for a compressed answer (Accept-Encoding: gzip)' } : {}) };
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
      // This request's ids only: a warm function's next request (a direct invocation has no
      // gateway id) must not log the previous one's.
      logger.resetKeys();
      logger.appendKeys({ requestId: request.requestId, ...(request.gatewayRequestId ? { gatewayRequestId: request.gatewayRequestId } : {}) });
      const match = route(request);
      routeName = `${match.route.method} ${match.route.path}`;
      reply = await match.route.handle({ ...request, params: match.params });
    } catch (error) {
      reply = errorReply(error, request?.requestId ?? context?.awsRequestId ?? 'unknown');
    }
    const requestId = request?.requestId ?? context?.awsRequestId ?? 'unknown';
    const acceptEncoding = compresses(request) ? request.headers['accept-encoding'] : undefined;
    let result = encode(request, reply, requestId);
    if (compresses(request)) result = compressed(result, acceptEncoding);
    const bytes = oversized(result);
    if (bytes !== undefined) {
      logger.warn('answer over the payload limit', { route: routeName, bytes, contentEncoding: result.headers['content-encoding'] });
      result = encode(request, errorReply(answerTooLarge(bytes, compresses(request) && chosenCoding(acceptEncoding) === undefined, reply), requestId), requestId);
    }
    // HEAD: the GET's status and headers, no body (the compressed one's headers too, as a GET would get them).
    if (request?.method === 'HEAD') result = { ...result, body: request.source === 'direct' ? undefined : '', isBase64Encoded: false };
    const millis = performance.now() - started;
    logger.info('request', { method: request?.method, path: request?.path, route: routeName, status: result.statusCode, millis: Math.round(millis * 10) / 10 });
    recordRequest(routeName, result.statusCode, millis);
    return result;
  };
}
