/** Byte counts in words, for messages. A leaf: every layer that refuses work for its size may import it. */

/** Megabytes with one decimal, e.g. `6.0 MB`. */
export const megabytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** Bytes in words: KB under a megabyte, one decimal under ten, whole megabytes above. */
export function size(bytes: number): string {
  if (bytes < 2 ** 20) return `${Math.ceil(bytes / 1024)} KB`;
  return bytes < 10 * 2 ** 20 ? megabytes(bytes) : `${Math.round(bytes / 2 ** 20)} MB`;
}
