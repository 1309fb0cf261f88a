/**
 * Byte counts in words, for messages, and bytes read as text. A leaf: every layer that refuses work
 * for its size, or bytes that are not text, may import it.
 */

/** UTF-8 as a request's text is read (JSON, OIP's BYTES): strictly, a leading byte-order mark kept as part of the text. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * `bytes` as UTF-8 text; undefined when they are not UTF-8, which callers refuse naming where the
 * bytes came from, rather than read them with replacement characters (a text the client never sent).
 */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The first bytes of a PNG file and of a JPEG file. */
const IMAGE_SIGNATURES = { PNG: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], JPEG: [0xff, 0xd8, 0xff] } as const;

/** 'PNG' or 'JPEG' when `bytes` begin as such a file does, else undefined. */
export function imageFileType(bytes: Uint8Array): 'PNG' | 'JPEG' | undefined {
  return (Object.keys(IMAGE_SIGNATURES) as ('PNG' | 'JPEG')[]).find((type) => IMAGE_SIGNATURES[type].every((byte, i) => bytes[i] === byte));
}

/** Megabytes with one decimal, e.g. `6.0 MB`. */
export const megabytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/**
 * A size and the limit it is over, in megabytes with as many decimals as tell them apart
 * ("6.02 MB, over the 6.00 MB", not "6.0 MB, over the 6.0 MB"); bytes when decimals cannot.
 */
export function megabytesOver(bytes: number, limit: number): [string, string] {
  for (let digits = 1; digits <= 3; digits++) {
    const [a, b] = [bytes, limit].map((n) => (n / 2 ** 20).toFixed(digits));
    if (a !== b) return [`${a} MB`, `${b} MB`];
  }
  return [`${bytes} bytes`, `${limit} bytes`];
}

/** Bytes in words: KB under a megabyte, one decimal under ten, whole megabytes above. */
export function size(bytes: number): string {
  if (bytes < 2 ** 20) return `${Math.ceil(bytes / 1024)} KB`;
  return bytes < 10 * 2 ** 20 ? megabytes(bytes) : `${Math.round(bytes / 2 ** 20)} MB`;
}
