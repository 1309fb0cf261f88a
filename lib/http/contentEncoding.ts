/**
 * A compressed request body (Content-Encoding: gzip or deflate, as Triton's HTTP endpoint accepts
 * them: a client sending large tensors saves most of the bytes) is inflated here, before the JSON
 * or the binary tensor data extension is read. Never past the limit an uncompressed body has: a
 * few kilobytes of gzip can hold gigabytes of zeros, and inflating stops at the limit (a 413), so
 * no such body makes the function allocate more than an uncompressed one could.
 */
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors.js';
import { checkSize, largeBodyAdvice, MAX_BODY_BYTES } from './body.js';
import { type Coding, codingNamed, listedCodings } from './codings.js';
import { bodyBytesOf, bodyFromBytes, type HttpRequest, sentAsTextHint } from './request.js';

/** The codings applied to the body, first applied first (the order of the header), identity left out. */
function codingsOf(header: string | undefined): Coding[] {
  return listedCodings(header).map((name) => {
    const coding = codingNamed(name);
    if (coding === undefined || coding === 'identity')
      throw new UnsupportedMediaTypeError(`Content-Encoding ${name} is not accepted: send gzip, deflate or identity (uncompressed)`);
    return coding;
  });
}

/** A zlib stream's two-byte header (RFC 1950): deflate as HTTP defines it. */
function isZlib(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && (bytes[0] & 0x0f) === 8 && ((bytes[0] << 8) | bytes[1]) % 31 === 0;
}

/** `hint`: what to say when the data does not inflate (sentAsTextHint), or ''. */
function inflate(coding: Coding, bytes: Uint8Array, maxBytes: number, hint: string, binary: boolean): Buffer {
  const options = { maxOutputLength: maxBytes };
  try {
    if (coding === 'gzip') return gunzipSync(bytes, options);
    // Some clients send a raw deflate stream under this name; browsers read both, and so do we.
    return isZlib(bytes) ? inflateSync(bytes, options) : inflateRawSync(bytes, options);
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PayloadTooLargeError(
        `the body inflates (Content-Encoding ${coding}) past the limit of ${maxBytes} bytes (${maxBytes / 2 ** 20} MB uncompressed): ${largeBodyAdvice(binary)}`,
      );
    }
    throw new BadRequestError(`the body is not valid ${coding} data, as its Content-Encoding says: ${(error as Error).message}${hint}`);
  }
}

/**
 * The request with its body inflated (and no Content-Encoding left), or as it came when it has
 * none. gzip, deflate and identity are read, in any case and in any order the header lists them;
 * any other coding (br, compress, ...) is a 415 naming what is read.
 */
export function decodeContent<R extends HttpRequest>(request: R, maxBytes = MAX_BODY_BYTES): R {
  const codings = codingsOf(request.headers['content-encoding']);
  // A direct invocation's JSON value was never encoded; an empty body is the JSON reader's to refuse.
  const empty = request.bodyBytes === undefined ? !request.body : request.bodyBytes.length === 0;
  if (codings.length === 0 || request.parsedBody !== undefined || empty) return request;
  const hint = sentAsTextHint(request, 'compressed');
  let bytes: Uint8Array = bodyBytesOf(request);
  // Binary tensor data already (OIP's extension, named by its header): the 413's advice does not offer it.
  const binary = request.headers['inference-header-content-length'] !== undefined;
  checkSize(bytes.length, maxBytes, binary);
  for (const coding of codings.reverse()) bytes = inflate(coding, bytes, maxBytes, hint, binary);
  const { 'content-encoding': _, ...headers } = request.headers;
  return { ...request, headers, body: undefined, ...bodyFromBytes(bytes, headers) };
}
