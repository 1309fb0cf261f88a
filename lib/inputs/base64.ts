/**
 * TF Serving's `{"b64": ...}` values: base64 (or base64url) text to bytes, whitespace ignored, as
 * the image and text kinds both take them. Anything else is a BadRequestError naming the JSON path.
 */
import { BadRequestError } from '../errors.js';

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function base64Bytes(text: string, path: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact) || compact.length % 4 === 1) throw new BadRequestError(`${path}: not valid base64`);
  return new Uint8Array(Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64'));
}
