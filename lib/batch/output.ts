/**
 * The text batch scoring writes: a CSV prediction is the input record exactly as it was in the
 * file followed by the answer's cells (label and score, or the value), a JSON Lines prediction is
 * `{line, ...answer}`, an error is `{line, error}`.
 */
import { stringify } from 'csv-stringify/sync';
import type { BestAnswer, ModelOutputs } from '../protocol/answers.js';

export function answerColumns(manifest: ModelOutputs, inputColumns: string[] = []): string[] {
  let names = manifest.task === 'regression' ? ['prediction'] : ['label', 'score'];
  // A file that has its own `label` column (a labelled data set) keeps it: the answer's columns are
  // renamed rather than repeated (readers keep one of two equal names, or rename the second).
  while (names.some((name) => inputColumns.includes(name))) names = names.map((name) => `predicted_${name}`);
  return names;
}

/** One CSV line (quoted where needed), with its line break. */
export function csvLine(values: unknown[]): string {
  return stringify([values]);
}

/** A scored row: where it is in the file and what came of it. */
export interface Scored {
  line: number;
  /** CSV: the record as it was in the file. */
  text?: string;
  /** JSON Lines rows carry every class's score (toAnswers), CSV rows the best only. */
  answer?: BestAnswer;
  error?: string;
}

/** Formats the answers of one run; a label's quoted cell is made once (a model has few labels). */
export class OutputText {
  private readonly quoted = new Map<string, string>();

  constructor(private readonly csv: boolean) {}

  private cell(value: unknown): string {
    if (typeof value === 'number') return String(value); // as csv-stringify writes a number
    // A regression row's values are quoted each time: kept, 4,096 of an image model's rows would hold hundreds of MB.
    if (Array.isArray(value)) return csvLine([JSON.stringify(value)]).slice(0, -1);
    const text = String(value);
    let cell = this.quoted.get(text);
    if (cell === undefined) {
      cell = csvLine([text]).slice(0, -1);
      if (this.quoted.size < 4096) this.quoted.set(text, cell);
    }
    return cell;
  }

  /** A scored row's line, its line break included. */
  prediction(row: Scored, answer: BestAnswer): string {
    if (!this.csv) return `${JSON.stringify({ line: row.line, ...answer })}\n`;
    if ('value' in answer) return `${row.text},${this.cell(answer.value)}\n`;
    return `${row.text},${this.cell(answer.label)},${this.cell(answer.score)}\n`;
  }

  error(row: Scored): string {
    return `${JSON.stringify({ line: row.line, error: row.error })}\n`;
  }
}
