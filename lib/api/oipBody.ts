/**
 * The body of an OIP infer request: plain JSON, or, with an `Inference-Header-Content-Length`
 * header, the binary tensor data extension's JSON header followed by tensor bytes
 * (lib/protocol/binaryData.ts), or, with that header 0, one input's bytes alone
 * (lib/protocol/rawBinary.ts). Either way within the Lambda payload limit.
 */
import { BadRequestError } from '../errors.js';
import { checkSize, jsonValue } from '../http/body.js';
import { bodyBytesOf, sentAsTextHint } from '../http/request.js';
import type { RouteRequest } from '../http/router.js';
import { HEADER_LENGTH, readBinaryRequest } from '../protocol/binaryData.js';
import { rawBodyPlaceholder } from '../protocol/rawBinary.js';

export function readOipBody(request: RouteRequest): unknown {
  const headerLength = request.headers[HEADER_LENGTH];
  if (headerLength === undefined) return jsonValue(request);
  const bytes = bodyBytesOf(request);
  checkSize(bytes.length, undefined, true);
  // Triton's raw binary request: the body one input's bytes, read once the model's signature is known (the infer handler).
  if (/^0+$/.test(headerLength)) {
    const hint = sentAsTextHint(request, 'binary');
    if (hint) throw new BadRequestError(`a raw binary body (Inference-Header-Content-Length: 0) must arrive as sent${hint}`);
    return rawBodyPlaceholder(bytes);
  }
  try {
    return readBinaryRequest(bytes, headerLength);
  } catch (error) {
    const hint = sentAsTextHint(request, 'binary');
    if (error instanceof BadRequestError && hint) throw new BadRequestError(`${error.message}${hint}`);
    throw error;
  }
}
