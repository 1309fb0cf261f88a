/**
 * Labelled examples: what the model gets (a natural instance or a raw tensor row) and the truth,
 * as a class index (classifiers) or a number (regression). Labels are checked against the model's
 * label set, so a typo is a 400 naming it rather than a silently wrong metric.
 */
import { BadRequestError, namesListed, quoted } from '../../errors.js';
import type { Manifest } from '../../registry/index.js';
import { csvNumber } from '../../inputs/csvCells.js';
import { instanceFromCsv, instanceFromRecord, missingColumnProblem, requiredColumns } from '../../inputs/encode.js';
import { lastDimension } from '../../tensors/data.js';
import { FLOAT32_MAX, fitsFloat32 } from '../../tensors/valueRanges.js';
import type { DatasetRow } from './dataset.js';

export interface Example {
  instance: unknown;
  truth: number;
  /** Where it is, for messages: a data set's row is `line N` of its file. */
  place?: string;
  /** The bytes of its record in a data set, held until its chunk is encoded (evaluate.ts bounds a chunk by them). */
  bytes?: number;
}

/** The class names of a classifier: the manifest's labels, else the output indices. */
export function classNames(manifest: Manifest): string[] {
  if (manifest.labels) return manifest.labels;
  const units = lastDimension(manifest.signature.outputs[0].shape);
  return Array.from({ length: manifest.task === 'binary' ? 2 : units }, (_, i) => String(i));
}

export function truthOf(manifest: Manifest, label: unknown, where: string): number {
  if (manifest.task === 'regression') {
    if (typeof label !== 'number' || !Number.isFinite(label)) throw new BadRequestError(`${where}: expected a number, got ${quoted(label)}`);
    // Its squared error would overflow the metrics (1e300: MSE Infinity, written as null), and no
    // float32 prediction comes near it; a feature beyond float32 is refused alike (inputs/tabular.ts).
    if (!fitsFloat32(label)) {
      throw new BadRequestError(`${where}: ${label} is beyond float32 (the model computes in float32: at most ±${FLOAT32_MAX.toPrecision(3)})`);
    }
    return label;
  }
  const names = classNames(manifest);
  // Compared as text (a CSV's numeric cells arrive as numbers), so only a scalar may be a label: ["setosa"] would read as setosa.
  if (typeof label !== 'string' && typeof label !== 'number' && typeof label !== 'boolean') {
    throw new BadRequestError(`${where}: ${quoted(label)} is not a label: a label is one value, one of the model's labels (${names.join(', ')})`);
  }
  const byName = names.indexOf(String(label));
  if (byName >= 0) return byName;
  if (manifest.task === 'binary' && typeof label === 'boolean') return label ? 1 : 0;
  throw new BadRequestError(`${where}: ${quoted(label)} is not one of the model's labels (${names.join(', ')})`);
}

/** Inline instances and their labels; every label is checked first, so one answer names all the unknown ones. */
export function inlineExamples(manifest: Manifest, { instances, labels }: { instances: unknown[]; labels: unknown[] }): Example[] {
  const problems: string[] = [];
  const examples = instances.map((instance, i) => {
    try {
      return { instance, truth: truthOf(manifest, labels[i], `labels[${i}]`) };
    } catch (error) {
      problems.push((error as Error).message);
      return { instance, truth: 0 };
    }
  });
  if (problems.length) throw new BadRequestError(problems.slice(0, 10).join('; ') + (problems.length > 10 ? `; and ${problems.length - 10} more` : ''));
  return examples;
}

/** The data set has no column of the request's labelColumn: a 400, and modelctl's --label-column to name (a usage error there). */
export class LabelColumnError extends BadRequestError {
  constructor(labelColumn: string, columns: string[]) {
    super(`label column ${quoted(labelColumn)} not found; the data set has columns ${namesListed(columns)}`);
  }
}

export function exampleFromRow(manifest: Manifest, row: DatasetRow, labelColumn: string, columnsSeen: () => string[]): Example {
  if (!(labelColumn in row.values)) {
    // A JSON Lines row without the label that rows before it had is that row's fault, not the column's.
    const seen = columnsSeen();
    if (!seen.includes(labelColumn)) throw new LabelColumnError(labelColumn, seen);
    throw new BadRequestError(`line ${row.line}: no ${quoted(labelColumn)} (the label column); this row has ${namesListed(Object.keys(row.values))}`);
  }
  // A JSON Lines row's `instance` field is the row (a natural instance or a raw tensor row), as
  // instanceFromRecord and batch scoring take it: the kind's own columns are not looked for then. A
  // CSV's cells are text: a tabular one needs its feature columns, as its columnar readings do.
  const missing = !row.fromCsv && 'instance' in row.values ? [] : (requiredColumns(manifest) ?? []).filter((n) => !(n in row.values));
  if (missing.length > 0) {
    throw new BadRequestError(`line ${row.line}: missing column(s) ${missing.join(', ')}; the data set has columns ${namesListed(columnsSeen())}`);
  }
  // An image or a text is read from one column: a row with none of its names beside an id is said
  // so, not "neither an instance nor a raw tensor row".
  const noColumn = missingColumnProblem(manifest, row.values, [labelColumn]);
  if (noColumn) throw new BadRequestError(`line ${row.line}: ${noColumn}`);
  // A CSV's cells are text: numbers are read where the model wants numbers (tabular features, a raw
  // row), as batch scoring reads the same file; a label cell as the columnar path reads it (trimmed,
  // a number when it is one: a regression target, or digits' "4" compared as text).
  const label = row.values[labelColumn];
  return {
    instance: (row.fromCsv ? instanceFromCsv : instanceFromRecord)(manifest, row.values, [labelColumn]),
    truth: truthOf(manifest, row.fromCsv && typeof label === 'string' ? csvNumber(label.trim()) : label, `line ${row.line}, ${labelColumn}`),
    place: `line ${row.line}`,
    bytes: row.bytes,
  };
}
