/**
 * The evaluation answer's shape (evaluate.ts's Evaluation), as a zod schema: the source of the
 * OpenAPI documentation (lib/api/openapi.ts). evaluate.ts builds the answer; this file only describes it.
 */
import { z } from 'zod';
import { TASKS } from '../../registry/manifest.js';

export const evaluationResponse = z
  .object({
    id: z.string(),
    model: z.object({ name: z.string(), version: z.number().int().positive() }),
    task: z.enum(TASKS),
    source: z.string().describe('inline, or the data set key'),
    count: z.number().int().min(0).describe('rows evaluated'),
    metrics: z.record(z.string(), z.number()).describe('the headline numbers, named as in the manifest'),
    report: z
      .record(z.string(), z.unknown())
      .describe('classification: accuracy, per class, macro and weighted averages, confusion matrix, log loss, ROC AUC and curves; regression: mse, rmse, mae, r2, max error'),
    createdAt: z.string(),
    durationMs: z.number().min(0),
  })
  .describe('an evaluation');
