/**
 * Held-out test rows as data set files the evaluate API reads (lib/ops/evaluate/dataset.ts):
 * CSV with a header row (read as batch reads it: cells as text, numbers read where the model wants
 * them) or JSON Lines objects. Numbers are written
 * with String(n), the shortest text that parses back to the same double, so evaluating a model on
 * the file sees exactly the values it was tested on.
 */
import type { HeldOutSet } from './types.js';

type HeldOutFormat = 'csv' | 'jsonl';

/** The store key of a model's held-out set. */
function heldOutKey(model: string, format: HeldOutFormat): string {
  return `_datasets/${model}-test.${format}`;
}

/** What the manifest's training record says about the held-out set, so a user can find it. */
export function heldOutRecord(set: HeldOutSet): { dataset: string; labelColumn: string } {
  return { dataset: set.dataset, labelColumn: set.labelColumn };
}

function csvCell(value: string | number): string {
  if (typeof value !== 'string') {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`held-out CSV: ${JSON.stringify(value)} cannot be written as a number`);
    return String(value);
  }
  // Plain words only (feature and class names): nothing that would need quoting, nothing that would
  // read as a number or lose spaces at its ends.
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value)) throw new Error(`held-out CSV: ${JSON.stringify(value)} would need quoting`);
  return value;
}

/** A header row and one line per row, values in column order. */
export function csvSet(model: string, labelColumn: string, columns: string[], rows: (string | number)[][]): HeldOutSet {
  if (!columns.includes(labelColumn)) throw new Error(`held-out CSV: no label column ${labelColumn}`);
  const lines = [columns, ...rows].map((row) => {
    if (row.length !== columns.length) throw new Error(`held-out CSV: a row of ${row.length} values for ${columns.length} columns`);
    return row.map(csvCell).join(',');
  });
  return { dataset: heldOutKey(model, 'csv'), labelColumn, content: `${lines.join('\n')}\n` };
}

/**
 * One JSON object per line. U+2028 and U+2029, which JSON.stringify leaves raw, are escaped too,
 * so no line reader can take them for line ends.
 */
export function jsonlSet(model: string, labelColumn: string, rows: Record<string, unknown>[]): HeldOutSet {
  const lines = rows.map((row) => {
    if (!(labelColumn in row)) throw new Error(`held-out JSONL: a row without ${labelColumn}`);
    return JSON.stringify(row).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
  });
  return { dataset: heldOutKey(model, 'jsonl'), labelColumn, content: `${lines.join('\n')}\n` };
}
