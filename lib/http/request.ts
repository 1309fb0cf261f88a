/**
 * One request shape for the three ways a handler is reached: API Gateway HTTP API (payload 2.0),
 * REST API (payload 1.0), and direct invocation (`{method, path, body}`, e.g. `aws lambda invoke`).
 */
import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { listedCodings } from './codings.js';
import { readEvent } from './events.js';

type EventSource = 'httpApi' | 'restApi' | 'direct';

export interface HttpRequest {
  source: EventSource;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Query parameters the request gave more than once (`?alias=a&alias=b`), which `query` cannot show. */
  repeatedQuery: string[];
  /** Lower-cased names. */
  headers: Record<string, string>;
  /** The raw body text (base64 already decoded), or undefined. */
  body?: string;
  /** The body's bytes when it came base64-encoded (binary content: API Gateway encodes it so). */
  bodyBytes?: Uint8Array;
  /** Direct invocations may carry the body as an object already. */
  parsedBody?: unknown;
  /**
   * The function's invocation id (what its log lines carry), else API Gateway's, else a new one.
   * Not API Gateway's first: serverless offline gives every HTTP API request the same one.
   */
  requestId: string;
  /** API Gateway's own id for the request, when it came through API Gateway (its access logs carry it). */
  gatewayRequestId?: string;
  /** Milliseconds the function has left before its timeout (Lambda's context), when it runs under one. */
  remainingMs?: () => number;
}

function lower(headers: Record<string, string | undefined> | null | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {})
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => [k.toLowerCase(), v]),
  );
}

function defined(record: Record<string, string | undefined> | null | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(record ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
}

/**
 * A body's bytes as a request carries them: also as text, except an application/octet-stream body
 * (OIP's binary extension), kept as bytes only: decoding it as text would cost as much as the model
 * for a large batch, for nothing. So is a compressed body (any Content-Encoding but identity): its
 * text means nothing until it is inflated (contentEncoding.ts).
 */
export function bodyFromBytes(bytes: Uint8Array, headers: Record<string, string>): { body?: string; bodyBytes: Uint8Array } {
  const encoded = listedCodings(headers['content-encoding']).length > 0;
  if (encoded || headers['content-type']?.startsWith('application/octet-stream')) return { bodyBytes: bytes };
  return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), bodyBytes: bytes };
}

/** The body as text and, when it came base64-encoded, as bytes (bodyFromBytes). */
function bodyOf(body: string | null | undefined, base64: boolean | undefined, headers: Record<string, string>): { body?: string; bodyBytes?: Uint8Array } {
  if (body === null || body === undefined) return {};
  if (!base64) return { body };
  return bodyFromBytes(Buffer.from(body, 'base64'), headers);
}

/** The body's bytes: as received when it came base64-encoded, else its text in UTF-8. */
export function bodyBytesOf(request: HttpRequest): Uint8Array {
  return request.bodyBytes ?? Buffer.from(request.body ?? '', 'utf8');
}

/**
 * What to add to a 400 about a body that did not read as `what` when it came as text with bytes
 * replaced by U+FFFD, else ''. Such a body was decoded as UTF-8 on its way (serverless offline does
 * so for any type but application/octet-stream): bytes that are not UTF-8 were altered, the likely
 * cause, so the answer says how to send it.
 */
export function sentAsTextHint(request: HttpRequest, what: 'compressed' | 'binary'): string {
  const contentType = request.headers['content-type'];
  const asText = request.bodyBytes === undefined && request.body?.includes('\uFFFD') === true && !contentType?.startsWith('application/octet-stream');
  return asText ? ` (send a ${what} body with Content-Type: application/octet-stream; as ${contentType ?? 'no content type'} it arrives as text and its bytes are altered)` : '';
}

/** Names given more than once in a query string. */
function repeatedIn(queryString: string | undefined): string[] {
  const counts = new Map<string, number>();
  for (const name of new URLSearchParams(queryString ?? '').keys()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts].filter(([, count]) => count > 1).map(([name]) => name);
}

export function toHttpRequest(event: unknown, context?: Partial<Context>): HttpRequest {
  const getRemaining = context?.getRemainingTimeInMillis;
  const remainingMs = typeof getRemaining === 'function' ? () => getRemaining.call(context) : undefined;
  // What every request carries whatever its source: its ids, and the time left when it has a timeout.
  const ids = (gatewayRequestId?: string) => ({ requestId: context?.awsRequestId ?? gatewayRequestId ?? randomUUID(), gatewayRequestId, remainingMs });
  const read = readEvent(event);
  if (read.source === 'httpApi') {
    const v2 = read.event;
    const headers = lower(v2.headers);
    return {
      source: 'httpApi',
      method: v2.requestContext.http.method.toUpperCase(),
      path: v2.rawPath,
      query: defined(v2.queryStringParameters),
      repeatedQuery: repeatedIn(v2.rawQueryString),
      headers,
      ...bodyOf(v2.body, v2.isBase64Encoded, headers),
      ...ids(v2.requestContext.requestId),
    };
  }
  if (read.source === 'restApi') {
    const v1 = read.event;
    const headers = lower(v1.headers);
    return {
      source: 'restApi',
      method: v1.httpMethod.toUpperCase(),
      path: v1.path,
      query: defined(v1.queryStringParameters),
      repeatedQuery: Object.entries(v1.multiValueQueryStringParameters ?? {}).flatMap(([name, values]) => ((values?.length ?? 0) > 1 ? [name] : [])),
      headers,
      ...bodyOf(v1.body, v1.isBase64Encoded ?? undefined, headers),
      ...ids(v1.requestContext?.requestId),
    };
  }
  const direct = read.event;
  const isText = typeof direct.body === 'string';
  const headers = lower(direct.headers);
  // A direct invocation may carry its query string in the path, as a URL would.
  const [pathOnly, queryString = ''] = direct.path.split('?', 2);
  return {
    source: 'direct',
    method: (direct.method ?? (direct.body === undefined ? 'GET' : 'POST')).toUpperCase(),
    path: pathOnly,
    query: { ...Object.fromEntries(new URLSearchParams(queryString)), ...defined(direct.query) },
    repeatedQuery: repeatedIn(queryString),
    headers,
    ...(isText ? bodyOf(direct.body as string, direct.isBase64Encoded, headers) : {}),
    parsedBody: isText ? undefined : direct.body,
    ...ids(),
  };
}
