/**
 * Request bodies: size limit (413), JSON parsing (400), then the route's zod schema (400). A
 * compressed body is inflated before (contentEncoding.ts), within the same limit.
 */
import type { z } from 'zod';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors.js';
import { imageFileType, utf8Text } from '../bytes.js';
import type { HttpRequest } from './request.js';

/** A body that does not parse as JSON (a 400), told apart from the other 400s of reading it. */
export class InvalidJsonError extends BadRequestError {}

/** Lambda's synchronous payload limit, for the request and for the answer alike. */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;

/** The body as text (a base64 or inflated body's bytes read as UTF-8). */
export function bodyText(request: HttpRequest): string | undefined {
  return request.body ?? (request.bodyBytes ? Buffer.from(request.bodyBytes).toString('utf8') : undefined);
}

/** How an image travels in JSON, and where the file itself may be the body. */
const IMAGE_IN_JSON =
  'in JSON an image is {"b64": "<the file in base64>"} (e.g. {"instances": [{"b64": "..."}]}); POST /v2/models/{model}/infer also takes the file itself as the body, with Inference-Header-Content-Length: 0';

/**
 * A PNG or JPEG file that came as text (serverless offline decodes other types as UTF-8): PNG's first
 * byte is a replacement character, its next three stay; JPEG's first bytes are replacement
 * characters, and its JFIF or Exif header's name stays.
 */
function imageFileTypeAsText(text: string): 'PNG' | 'JPEG' | undefined {
  if (text.startsWith('\uFFFDPNG')) return 'PNG';
  return /^\uFFFD{3}[\s\S]{0,4}(JFIF|Exif)/.test(text) ? 'JPEG' : undefined;
}

/**
 * A body that is no JSON, told by its type or first bytes where a client sent something else on
 * purpose (a form upload, an image file): a 415 or 400 saying what to send, rather than a parse
 * error at an unreadable first byte. Undefined for any other body.
 */
function notJson(request: HttpRequest, text: string): BadRequestError | UnsupportedMediaTypeError | undefined {
  const type = request.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type === 'multipart/form-data') {
    return new UnsupportedMediaTypeError(`a form upload (multipart/form-data, as curl -F sends) is not read; send JSON: ${IMAGE_IN_JSON}`);
  }
  if (type?.startsWith('image/')) return new UnsupportedMediaTypeError(`an ${type} body is not read here; ${IMAGE_IN_JSON}`);
  const file = request.bodyBytes ? imageFileType(request.bodyBytes) : imageFileTypeAsText(text);
  return file ? new BadRequestError(`the body is a ${file} file, not JSON: ${IMAGE_IN_JSON}`) : undefined;
}

/** The request's JSON value (a direct invocation's object as it came), within the size limit. */
export function jsonValue(request: HttpRequest, maxBytes = MAX_BODY_BYTES): unknown {
  if (request.parsedBody !== undefined) return request.parsedBody;
  const text = bodyText(request);
  if (text === undefined || text.trim() === '') throw new BadRequestError('the request needs a JSON body');
  checkSize(request.bodyBytes?.length ?? Buffer.byteLength(text, 'utf8'), maxBytes);
  // JSON is UTF-8 (RFC 8259): other bytes are refused, as OIP's binary BYTES, batch and evaluate
  // files refuse them. Only bytes (a base64 or inflated body) can be checked: a body that came as
  // text was decoded on its way; a decoding without replacement characters was UTF-8.
  if (request.bodyBytes && text.includes('\uFFFD') && utf8Text(request.bodyBytes) === undefined) {
    throw notJson(request, text) ?? new BadRequestError('the body is not valid UTF-8 text: JSON is UTF-8; send its text in UTF-8');
  }
  try {
    // A leading byte-order mark, which editors on Windows write into a file sent with curl -d @file,
    // is dropped, as RFC 8259 (section 8.1) lets a parser do: JSON.parse named it as an invisible token.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw notJson(request, text) ?? new InvalidJsonError(`the body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * A route that takes no body refuses one rather than answer as if it had not been sent: a
 * rollback sent {"version": 2} would otherwise move the alias to the version before, not to 2.
 * An empty body, or an empty JSON object (what many clients send with every POST), is no body.
 * `instead`: what the route takes, or what does what the body seems to ask.
 */
export function refuseBody(request: HttpRequest, instead: string): void {
  const parsed = request.parsedBody;
  const text = request.body ?? (request.bodyBytes ? Buffer.from(request.bodyBytes).toString('utf8') : undefined);
  if (parsed === undefined && (text === undefined || /^\s*(\{\s*\})?\s*$/.test(text))) return;
  if (parsed !== undefined && parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && Object.keys(parsed).length === 0) return;
  const size = parsed === undefined ? `${request.bodyBytes?.length ?? Buffer.byteLength(text ?? '', 'utf8')} bytes` : 'a body';
  throw new BadRequestError(`this route takes no body, and ${size} came: ${instead}`);
}

/**
 * What a client can do about a body over the limit (it is Lambda's, so no setting raises it): the
 * same rows in several requests, in fewer bytes, or through the path that has no request at all.
 */
export function largeBodyAdvice(binary = false): string {
  const tensors = binary ? '' : '; to OIP infer, tensors as binary data (Inference-Header-Content-Length: 4 bytes a float32, where JSON takes up to 20 characters)';
  return `send less in one request (fewer instances); for evaluate or fine-tune, a data set in the model store ("dataset"); to score many rows, batch scoring (an upload under batch/input/{model}/, or modelctl batch)${tensors}`;
}

/** `binary`: the body is binary tensor data already, which the advice then does not offer. */
export function checkSize(bytes: number, maxBytes = MAX_BODY_BYTES, binary = false): void {
  if (bytes > maxBytes) throw new PayloadTooLargeError(`the body is ${bytes} bytes; the limit is ${maxBytes} (Lambda's, for one request): ${largeBodyAdvice(binary)}`);
}

export function jsonBody<S extends z.ZodType>(request: HttpRequest, schema: S, maxBytes = MAX_BODY_BYTES): z.infer<S> {
  return schema.parse(jsonValue(request, maxBytes));
}
