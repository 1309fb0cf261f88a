/**
 * Compressed answers, for a client whose Accept-Encoding takes gzip or deflate (as Triton's HTTP
 * endpoint answers them). Besides the bandwidth, this is what lets an answer over the 6 MB a Lambda
 * function can return (a large batch, explanations with PNGs) through: the limit counts the bytes
 * sent, the compressed body in base64.
 */
import { deflateSync, gzipSync } from 'node:zlib';
import { aliasesOf, type Coding } from './codings.js';

/**
 * Smaller answers go as they are: gzip's header and trailer (18 bytes) and base64's third more eat
 * most of what compressing a small JSON answer saves, for the CPU it costs on every request.
 */
export const MIN_COMPRESSED_BYTES = 1024;

/** The q-value (0 to 1) each coding the header lists is given; a malformed one counts as not listed. */
function qualities(acceptEncoding: string): Map<string, number> {
  const listed = new Map<string, number>();
  for (const entry of acceptEncoding.split(',')) {
    const [name, ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    if (!name) continue;
    const q = params.find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    if (q !== undefined && (q.length === 2 || !Number.isFinite(value) || value < 0 || value > 1)) continue;
    listed.set(name, value);
  }
  return listed;
}

/**
 * The coding to answer in: the one of gzip and deflate the client rates higher (by name, else by
 * `*`), gzip on a tie; none when both are refused (q=0) or not listed at all.
 */
export function chosenCoding(acceptEncoding: string | undefined): Coding | undefined {
  if (!acceptEncoding) return undefined;
  const listed = qualities(acceptEncoding);
  const byName = (coding: Coding) => [coding, ...aliasesOf(coding)].map((name) => listed.get(name)).find((q) => q !== undefined);
  const q = (coding: Coding) => byName(coding) ?? listed.get('*') ?? 0;
  const best = q('deflate') > q('gzip') ? 'deflate' : 'gzip';
  return q(best) > 0 ? best : undefined;
}

interface Sent {
  headers: Record<string, string>;
  body: unknown;
  isBase64Encoded?: boolean;
}

/**
 * The answer compressed in the coding the client takes, base64-encoded (API Gateway sends the
 * bytes), with Content-Encoding; as it was when it is small, when the client takes no compression,
 * or when compressing does not make it smaller on the wire (a PNG: base64 of its gzip is larger
 * than base64 of itself). Any answer this could compress varies with Accept-Encoding, and says so.
 */
export function compressed<R extends Sent>(result: R, acceptEncoding: string | undefined): R {
  if (typeof result.body !== 'string' || result.headers['content-encoding'] !== undefined) return result;
  const bytes = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body, 'utf8');
  if (bytes.length < MIN_COMPRESSED_BYTES) return result;
  const headers = { ...result.headers, vary: result.headers.vary ? `${result.headers.vary}, accept-encoding` : 'accept-encoding' };
  const coding = chosenCoding(acceptEncoding);
  const plain = { ...result, headers };
  if (coding === undefined) return plain;
  const body = (coding === 'gzip' ? gzipSync(bytes) : deflateSync(bytes)).toString('base64');
  const sentPlain = result.isBase64Encoded ? result.body.length : bytes.length;
  if (body.length >= sentPlain) return plain;
  return { ...result, headers: { ...headers, 'content-encoding': coding }, body, isBase64Encoded: true };
}
