/**
 * Text instances: raw strings (or {"text": "..."}) turned into a bag of words over the stored
 * vocabulary, as the text model was trained.
 */
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import { utf8Text } from '../bytes.js';
import { base64Bytes } from './base64.js';
import { checkOnlyKey, instanceCell } from './instanceColumn.js';
import type { AttributionView, InputKind } from './kind.js';

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'g');
    return true;
  } catch {
    return false;
  }
}

const settingsSchema = z.object({
  kind: z.literal('text'),
  vocabulary: z.array(z.string()).min(1),
  lowercase: z.boolean().default(true),
  // Checked when stored: a pattern that does not compile would fail every request to the model.
  tokenPattern: z.string().default("[a-z0-9']+").refine(compiles, { message: 'must be a regular expression (JavaScript syntax)' }),
  /** binary: 1 when the word occurs; count: how many times. */
  mode: z.enum(['binary', 'count']).default('binary'),
});

export type TextSettings = z.infer<typeof settingsSchema>;

function tokenize(settings: TextSettings, text: string): string[] {
  const source = settings.lowercase ? text.toLowerCase() : text;
  return source.match(new RegExp(settings.tokenPattern, 'g')) ?? [];
}

/** Words to vocabulary indices, built once per settings object. */
const indexCache = new WeakMap<TextSettings, Map<string, number>>();
function vocabularyIndex(settings: TextSettings): Map<string, number> {
  let index = indexCache.get(settings);
  if (!index) {
    index = new Map(settings.vocabulary.map((word, i) => [word, i]));
    indexCache.set(settings, index);
  }
  return index;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** TF Serving's binary form of a string, `{"b64": "..."}`: here the text's UTF-8 bytes. */
const isB64 = (value: unknown): value is { b64: string } => isPlainObject(value) && typeof value.b64 === 'string';

const TEXT_ALONE = 'a text instance is a string, {"text": "..."} or {"b64": "<base64 UTF-8>"} alone';

function b64Text(value: { b64: string }, where: string): string {
  checkOnlyKey(value, 'b64', where, TEXT_ALONE);
  const text = utf8Text(base64Bytes(value.b64, `${where}.b64`));
  if (text === undefined) throw new BadRequestError(`${where}.b64: the decoded bytes are not UTF-8 text (${TEXT_ALONE})`);
  return text;
}

function textOf(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (isB64(value)) return b64Text(value, where);
  if (isPlainObject(value) && (typeof value.text === 'string' || isB64(value.text))) {
    checkOnlyKey(value, 'text', where, TEXT_ALONE);
    return typeof value.text === 'string' ? value.text : b64Text(value.text as { b64: string }, `${where}.text`);
  }
  throw new BadRequestError(`${where}: expected a string (or {"text": "..."}, or {"b64": ...}), got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
}

function isInstance(value: unknown): boolean {
  return typeof value === 'string' || isB64(value) || (isPlainObject(value) && (typeof value.text === 'string' || isB64(value.text)));
}

async function encode(settings: TextSettings, texts: unknown[], placeOf: (index: number) => string): Promise<Float32Array> {
  const index = vocabularyIndex(settings);
  const size = settings.vocabulary.length;
  const out = new Float32Array(texts.length * size);
  texts.forEach((value, r) => {
    for (const token of tokenize(settings, textOf(value, placeOf(r)))) {
      const i = index.get(token);
      if (i === undefined) continue;
      out[r * size + i] = settings.mode === 'count' ? out[r * size + i] + 1 : 1;
    }
  });
  return out;
}

/**
 * `tokens` in the original order, every occurrence of a word carrying its word's attribution (a bag
 * of words cannot tell occurrences apart; words outside the vocabulary carry 0). `words` lists each
 * word once; with `otherWords` (the rest of the vocabulary) they add up to the total. Gradients
 * have no total, so they get no `otherWords`.
 */
function mapAttributions(settings: TextSettings, view: AttributionView): Record<string, unknown> {
  const { row, values } = view;
  const present = [...row.keys()].filter((j) => row[j] !== 0);
  const counts = new Map<number, number>();
  let tokens: { token: string; attribution: number; inVocabulary: boolean }[] | undefined;
  if (view.natural) {
    const index = vocabularyIndex(settings);
    tokens = tokenize(settings, textOf(view.instance, 'instance')).map((token) => {
      const j = index.get(token);
      if (j !== undefined) counts.set(j, (counts.get(j) ?? 0) + 1);
      return { token, attribution: j === undefined ? 0 : values[j], inVocabulary: j !== undefined };
    });
  }
  const words = present
    .map((j) => ({ word: settings.vocabulary[j], count: counts.get(j) ?? row[j], attribution: values[j] }))
    .sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution));
  if (view.gradient) return { ...(tokens ? { tokens } : {}), words };
  let total = 0;
  for (const v of values) total += v;
  const otherWords = total - present.reduce((s, j) => s + values[j], 0);
  return { ...(tokens ? { tokens } : {}), words, otherWords };
}

/** The column a data-set record's text is read from, before its only column. */
const TEXT_COLUMNS = ['text'];

export const textKind: InputKind<TextSettings> = {
  kind: 'text',
  schema: settingsSchema,
  contentTypes: ['str'],
  instanceHelp: () => 'a string (or {"text": "..."}, or {"b64": "<base64 UTF-8>"})',
  rowShape: (settings) => [settings.vocabulary.length],
  isInstance: (_settings, value) => isInstance(value),
  encode,
  fromRecord: (_settings, record, ignore) => instanceCell(record, TEXT_COLUMNS, ignore),
  recordColumns: TEXT_COLUMNS,
  requiredColumns: () => undefined,
  fromCsvCells: (_settings, instance) => instance,
  describe: (settings) => ({ kind: 'text', vocabularySize: settings.vocabulary.length }),
  rawTensorNote: (settings) =>
    `a raw tensor row is the bag of words: ${settings.vocabulary.length} values, one per vocabulary word (${settings.mode === 'count' ? 'its count' : '1 when present'}); send strings to have them tokenised`,
  defaultBaseline: 'zeros',
  zeroRow: (_settings, size) => new Float32Array(size),
  meanRow: () => undefined,
  // The empty text: a removed word is then simply absent, which is what "this word's contribution"
  // means for a bag of words (a stored document would swap in the words of an unrelated message).
  zeroBackground: 'empty text',
  imageShape: () => undefined,
  // The distinct vocabulary words present: the other inputs of a bag of words stay at the
  // instance's 0 (a word that is not there cannot matter to "why this answer", and 2^1000
  // coalitions could not be sampled usefully).
  featureGroups: (settings, row) => {
    const present = [...row.keys()].filter((j) => row[j] !== 0);
    return { names: present.map((j) => settings.vocabulary[j]), indices: present.map((j) => Int32Array.of(j)), kind: 'words' };
  },
  mapAttributions,
};
