/**
 * The three shapes of event an HTTP handler is reached by, as zod reads them: the fields request.ts
 * reads, each of the type it must be (other fields pass unread). API Gateway always sends them so;
 * a direct invocation (anyone allowed lambda:InvokeFunction) may send anything, and a malformed
 * event (a method that is a number, an HTTP API event without requestContext.http, a body that is an
 * object, a header that is not text) is a 400 naming the field, not a TypeError's 500.
 */
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import { describeIssues } from './zodIssues.js';

/** Headers, or query parameters: names to text (API Gateway leaves the whole map out, or null, when there are none). */
const textMap = z.record(z.string(), z.string().optional()).nullish();

const httpApiEvent = z.object({
  rawPath: z.string(),
  requestContext: z.object({ http: z.object({ method: z.string() }), requestId: z.string().optional() }),
  headers: textMap,
  queryStringParameters: textMap,
  /** The query as sent: queryStringParameters joins a repeated name's values with commas. */
  rawQueryString: z.string().optional(),
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().optional(),
});

const restApiEvent = z.object({
  httpMethod: z.string(),
  path: z.string(),
  headers: textMap,
  queryStringParameters: textMap,
  /** Each name's values: queryStringParameters keeps only a repeated name's last. */
  multiValueQueryStringParameters: z.record(z.string(), z.array(z.string()).optional()).nullish(),
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().nullish(),
  requestContext: z.object({ requestId: z.string().optional() }).nullish(),
});

const directInvocation = z.object({
  method: z.string().optional(),
  path: z.string(),
  query: textMap,
  headers: textMap,
  /** Text, as API Gateway passes it, or the JSON value itself. */
  body: z.unknown().optional(),
  /** A text body that is base64 of binary content, as API Gateway would pass it. */
  isBase64Encoded: z.boolean().optional(),
});

type ReadEvent =
  | { source: 'httpApi'; event: z.output<typeof httpApiEvent> }
  | { source: 'restApi'; event: z.output<typeof restApiEvent> }
  | { source: 'direct'; event: z.output<typeof directInvocation> };

function read<T>(schema: z.ZodType<T>, event: object, what: string): T {
  const parsed = schema.safeParse(event);
  if (!parsed.success) throw new BadRequestError(`malformed ${what}: ${describeIssues(parsed.error, 'event')}`);
  return parsed.data;
}

/** Which kind of event this is (by the fields that mark each), read by that kind's shape. */
export function readEvent(event: unknown): ReadEvent {
  const e = typeof event === 'object' && event !== null ? event : {};
  if ('version' in e && e.version === '2.0' && 'rawPath' in e) return { source: 'httpApi', event: read(httpApiEvent, e, 'API Gateway HTTP API event (payload 2.0)') };
  if ('httpMethod' in e) return { source: 'restApi', event: read(restApiEvent, e, 'API Gateway REST API event (payload 1.0)') };
  if ('path' in e) return { source: 'direct', event: read(directInvocation, e, 'direct invocation {"method", "path", "body"}') };
  throw new BadRequestError('unrecognised event: expected an API Gateway event or {"method", "path", "body"}');
}
