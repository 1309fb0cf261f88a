/** Request bodies: size limit (413), JSON parsing (400), then the route's zod schema (400). */
import type { z } from 'zod';
import { BadRequestError, PayloadTooLargeError } from '../errors.js';
import type { HttpRequest } from './request.js';

/** Lambda's synchronous payload limit. */
const MAX_BODY_BYTES = 6 * 1024 * 1024;

export function jsonBody<S extends z.ZodType>(request: HttpRequest, schema: S, maxBytes = MAX_BODY_BYTES): z.infer<S> {
  let value: unknown = request.parsedBody;
  if (value === undefined) {
    const text = request.body;
    if (text === undefined || text.trim() === '') throw new BadRequestError('the request needs a JSON body');
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > maxBytes) throw new PayloadTooLargeError(`the body is ${bytes} bytes; the limit is ${maxBytes}`);
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new BadRequestError(`the body is not valid JSON: ${(error as Error).message}`);
    }
  }
  return schema.parse(value);
}
