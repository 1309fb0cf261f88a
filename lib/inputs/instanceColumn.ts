/**
 * The column of a data-set record (a CSV row, a JSON Lines object) that holds a one-column
 * instance: an image's or a text's. A batch row's error names it, as a tabular row's names its feature.
 * In a request, such an instance given as an object holds that one key.
 */
import { BadRequestError } from '../errors.js';

/** The first of `names` the record has a value in, else its only column besides `ignore` (label columns). */
export function instanceColumn(record: Record<string, unknown>, names: readonly string[], ignore: readonly string[]): string | undefined {
  const named = names.find((name) => record[name] !== undefined && record[name] !== null);
  if (named !== undefined) return named;
  const rest = Object.keys(record).filter((key) => !ignore.includes(key));
  return rest.length === 1 ? rest[0] : undefined;
}

/** That column's value. */
export function instanceCell(record: Record<string, unknown>, names: readonly string[], ignore: readonly string[]): unknown {
  const column = instanceColumn(record, names, ignore);
  return column === undefined ? undefined : record[column];
}

/**
 * A 400 for a key beside the one an instance object holds (`b64`, `image`, `text`): in TF Serving's
 * rows a key names a model input, and this one input is the image or text, so another key (a label,
 * the model's raw input name) would be a value silently left out of the answer. `alone` says the forms.
 */
export function checkOnlyKey(object: object, key: string, where: string, alone: string): void {
  const other = Object.keys(object).find((k) => k !== key);
  if (other !== undefined) throw new BadRequestError(`${where}: unexpected key ${JSON.stringify(other)} beside "${key}": ${alone}`);
}
