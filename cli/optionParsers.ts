/** Commander argument parsers: a value that does not parse is refused by commander, naming the option. */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from 'commander';

export function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number.');
  return n;
}

/** The schemas check ranges; this only refuses what is not a whole number at all. */
export function wholeNumber(value: string): number {
  const n = number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number.');
  return n;
}

/** A store URI as MODEL_STORE_URI takes it, or a folder path (what --out and --data take too) as file://. */
export function storeUri(value: string): string {
  if (/^(s3:\/\/[^/]+(\/.*)?|file:\/\/.+)$/.test(value)) return value;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw new InvalidArgumentError('expected s3://bucket[/prefix], file://path or a folder path.');
  return pathToFileURL(path.resolve(value)).href;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** The youngest staged version prune may remove: a writer still running (a Lambda runs up to 15 minutes) keeps its files. */
const PRUNE_FLOOR_MS = 15 * UNIT_MS.m;

/** An age such as 90m, 24h or 7d, in milliseconds, of at least 15 minutes. */
export function pruneAge(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected an age such as 90m, 24h or 7d.');
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms < PRUNE_FLOOR_MS) throw new InvalidArgumentError('expected at least 15m: a writer still running (a Lambda runs up to 15 minutes) may yet commit it.');
  return ms;
}
