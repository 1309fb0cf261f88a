/**
 * One request shape for the three ways a handler is reached: API Gateway HTTP API (payload 2.0),
 * REST API (payload 1.0), and direct invocation (`{method, path, body}`, e.g. `aws lambda invoke`).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { BadRequestError } from '../errors.js';

type EventSource = 'httpApi' | 'restApi' | 'direct';

export interface HttpRequest {
  source: EventSource;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased names. */
  headers: Record<string, string>;
  /** The raw body text (base64 already decoded), or undefined. */
  body?: string;
  /** Direct invocations may carry the body as an object already. */
  parsedBody?: unknown;
  requestId: string;
}

interface DirectInvocation {
  method?: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
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

function bodyText(body: string | null | undefined, base64: boolean): string | undefined {
  if (body === null || body === undefined) return undefined;
  return base64 ? Buffer.from(body, 'base64').toString('utf8') : body;
}

export function toHttpRequest(event: unknown, context?: Partial<Context>): HttpRequest {
  const e = (event ?? {}) as Record<string, unknown>;
  const fallbackId = context?.awsRequestId ?? randomUUID();
  if (e.version === '2.0' && typeof e.rawPath === 'string') {
    const v2 = event as APIGatewayProxyEventV2;
    return {
      source: 'httpApi',
      method: v2.requestContext.http.method.toUpperCase(),
      path: v2.rawPath,
      query: defined(v2.queryStringParameters),
      headers: lower(v2.headers),
      body: bodyText(v2.body, v2.isBase64Encoded),
      requestId: v2.requestContext.requestId ?? fallbackId,
    };
  }
  if (typeof e.httpMethod === 'string' && typeof e.path === 'string') {
    const v1 = event as APIGatewayProxyEvent;
    return {
      source: 'restApi',
      method: v1.httpMethod.toUpperCase(),
      path: v1.path,
      query: defined(v1.queryStringParameters),
      headers: lower(v1.headers),
      body: bodyText(v1.body, v1.isBase64Encoded),
      requestId: v1.requestContext?.requestId ?? fallbackId,
    };
  }
  if (typeof e.path === 'string') {
    const direct = event as DirectInvocation;
    const isText = typeof direct.body === 'string';
    // A direct invocation may carry its query string in the path, as a URL would.
    const [pathOnly, queryString = ''] = direct.path.split('?', 2);
    return {
      source: 'direct',
      method: (direct.method ?? (direct.body === undefined ? 'GET' : 'POST')).toUpperCase(),
      path: pathOnly,
      query: { ...Object.fromEntries(new URLSearchParams(queryString)), ...defined(direct.query) },
      headers: lower(direct.headers),
      body: isText ? (direct.body as string) : undefined,
      parsedBody: isText ? undefined : direct.body,
      requestId: fallbackId,
    };
  }
  throw new BadRequestError('unrecognised event: expected an API Gateway event or {"method", "path", "body"}');
}
