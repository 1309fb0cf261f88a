/**
 * The body of an OIP infer request: plain JSON, or, with an `Inference-Header-Content-Length`
 * header, the binary tensor data extension's JSON header followed by tensor bytes
 * (lib/protocol/binaryData.ts). Either way within the Lambda payload limit.
 */
import { BadRequestError } from '../errors.js';
import { checkSize, jsonValue } from '../http/body.js';
import { bodyBytesOf } from '../http/request.js';
import type { RouteRequest } from '../http/router.js';
import { HEADER_LENGTH, readBinaryRequest } from '../protocol/binaryData.js';

export function readOipBody(request: RouteRequest): unknown {
  const headerLength = request.headers[HEADER_LENGTH];
  if (headerLength === undefined) return jsonValue(request);
  const bytes = bodyBytesOf(request);
  checkSize(bytes.length);
  try {
    return readBinaryRequest(bytes, headerLength);
  } catch (error) {
    // A body that came as text (not base64) was decoded as UTF-8 on its way: bytes that are not
    // UTF-8 were replaced (U+FFFD), so its counts no longer add up. Said, as the likely cause.
    const asText = request.bodyBytes === undefined && request.body?.includes('\uFFFD') && !request.headers['content-type']?.startsWith('application/octet-stream');
    if (error instanceof BadRequestError && asText) {
      throw new BadRequestError(
        `${error.message} (send a binary body with Content-Type: application/octet-stream; as ${request.headers['content-type'] ?? 'no content type'} it arrives as text and its bytes are altered)`,
      );
    }
    throw error;
  }
}
