/** The evaluate request: inline labelled instances, or a data set in the model store. */
import { z } from 'zod';
import { checkLabelled, labelledFields, type LabelledSource } from '../labelledData.js';

const options = {
  topK: z.number().int().min(1).max(100).optional().describe('multiclass: also report top-k accuracy'),
  threshold: z.number().min(0).max(1).optional().describe('binary: the positive class is predicted when its probability is above this (default 0.5, as predict labels rows)'),
  save: z.boolean().default(false).describe('keep the result under the version (evaluations/{id}.json)'),
};

export type EvaluateRequest = LabelledSource & { topK?: number; threshold?: number; save: boolean };

export const evaluateRequest = z
  .object({ ...labelledFields, ...options })
  .strict()
  .superRefine((request, context) => checkLabelled(request, context))
  .transform((request) => request as EvaluateRequest)
  .describe('evaluate request');
