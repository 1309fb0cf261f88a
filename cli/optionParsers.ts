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
