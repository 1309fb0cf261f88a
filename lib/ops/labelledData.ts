/**
 * Labelled data in a request (evaluate, fine-tune and its validation set): inline instances with
 * one label each, or a data set in the store. The rule is part of the schema, so a parsed request
 * is one of the two shapes and needs no further checks.
 */
import { z } from 'zod';

export const labelledFields = {
  instances: z.array(z.unknown()).optional().describe('inputs as in predict: feature records, strings, {"b64": ...} images or raw tensor rows'),
  labels: z.array(z.unknown()).optional().describe('the true label (class name) or value of each instance'),
  dataset: z.string().optional().describe('a CSV or JSON Lines object in the model store: s3://bucket/prefix/key, file://..., or a key relative to the store'),
  labelColumn: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .describe('with "dataset": the column (CSV) or field (JSONL) holding the truth (default: label; a fine-tune\'s validation data set: the training data set\'s)'),
  format: z.enum(['csv', 'jsonl']).optional().describe('with "dataset": csv or jsonl (default: from the extension, .csv, .jsonl, .ndjson)'),
};

/** The column or field a data set's truth is in when the request names none. */
export const DEFAULT_LABEL_COLUMN = 'label';

/** Either inline labelled instances or a data set, never both. */
export type LabelledSource = { labelColumn?: string; format?: 'csv' | 'jsonl' } & (
  | { instances: unknown[]; labels: unknown[]; dataset?: undefined }
  | { dataset: string; instances?: undefined; labels?: undefined }
);

interface LabelledInput {
  instances?: unknown[];
  labels?: unknown[];
  dataset?: string;
  labelColumn?: string;
  format?: string;
}

/** Adds an issue for each way `part` breaks the rule; `path` locates it in the request. */
export function checkLabelled(part: LabelledInput, context: z.RefinementCtx, path: (string | number)[] = []): void {
  const problem = labelledProblem(part);
  if (problem) context.addIssue({ code: 'custom', message: problem, path });
}

function labelledProblem(part: LabelledInput): string | undefined {
  if ((part.instances === undefined) === (part.dataset === undefined)) return 'send either "instances" with "labels", or "dataset"';
  if (part.instances === undefined) return undefined;
  // Options of a data set, given with inline instances, were ignored: said instead.
  const datasetOnly = (['labelColumn', 'format'] as const).filter((name) => part[name] !== undefined);
  if (datasetOnly.length > 0)
    return `${datasetOnly.map((name) => `"${name}"`).join(' and ')} read a "dataset"; inline "instances" take their truth from "labels": drop ${datasetOnly.length > 1 ? 'them' : 'it'}`;
  if (part.instances.length === 0) return 'instances is empty: send at least one labelled instance';
  if (part.labels === undefined) return '"labels" is required with "instances"';
  if (part.labels.length !== part.instances.length) return `${part.instances.length} instances but ${part.labels.length} labels: send one label per instance`;
  return undefined;
}
