/**
 * The column of a data-set record (a CSV row, a JSON Lines object) that holds a one-column
 * instance: an image's or a text's. A batch row's error names it, as a tabular row's names its feature.
 */

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
