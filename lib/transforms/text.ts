/** Raw strings -> bag-of-words vectors over the stored vocabulary (what the text model was trained on). */
import { BadRequestError } from '../errors.js';
import type { TextTransform } from './schema.js';

export function tokenize(transform: TextTransform, text: string): string[] {
  const source = transform.lowercase ? text.toLowerCase() : text;
  return source.match(new RegExp(transform.tokenPattern, 'g')) ?? [];
}

/** Words to vocabulary indices, built once per transform object. */
const indexCache = new WeakMap<TextTransform, Map<string, number>>();
export function vocabularyIndex(transform: TextTransform): Map<string, number> {
  let index = indexCache.get(transform);
  if (!index) {
    index = new Map(transform.vocabulary.map((word, i) => [word, i]));
    indexCache.set(transform, index);
  }
  return index;
}

export function textOf(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { text?: unknown }).text === 'string') return (value as { text: string }).text;
  throw new BadRequestError(`${where}: expected a string (or {"text": "..."}), got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
}

export function encodeText(transform: TextTransform, texts: unknown[], where = 'instances'): Float32Array {
  const index = vocabularyIndex(transform);
  const size = transform.vocabulary.length;
  const out = new Float32Array(texts.length * size);
  texts.forEach((value, r) => {
    for (const token of tokenize(transform, textOf(value, `${where}[${r}]`))) {
      const i = index.get(token);
      if (i === undefined) continue;
      out[r * size + i] = transform.mode === 'count' ? out[r * size + i] + 1 : 1;
    }
  });
  return out;
}
