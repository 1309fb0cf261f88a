/** The evaluate request: inline labelled instances, or a data set in the model store. */
import { z } from 'zod';
import { BadRequestError } from '../../errors.js';

export const evaluateRequest = z
  .object({
    instances: z.array(z.unknown()).optional().describe('inputs as in predict: feature records, strings, {"b64": ...} images or raw tensor rows'),
    labels: z.array(z.unknown()).optional().describe('the true label (class name) or value of each instance'),
    dataset: z.string().optional().describe('a CSV or JSON Lines object in the model store: s3://bucket/prefix/key, file://..., or a key relative to the store'),
    labelColumn: z.string().min(1).default('label').describe('the column (CSV) or field (JSONL) holding the truth'),
    format: z.enum(['csv', 'jsonl']).optional().describe('default: from the extension (.csv, .jsonl, .ndjson)'),
    topK: z.number().int().min(1).max(100).optional().describe('multiclass: also report top-k accuracy'),
    threshold: z.number().min(0).max(1).optional().describe('binary: the probability from which the positive class is predicted (default 0.5)'),
    save: z.boolean().default(false).describe('keep the result under the version (evaluations/{id}.json)'),
  })
  .strict()
  .describe('evaluate request');

export type EvaluateRequest = z.infer<typeof evaluateRequest>;

export function checkEvaluateRequest(request: EvaluateRequest): EvaluateRequest {
  if ((request.instances === undefined) === (request.dataset === undefined)) {
    throw new BadRequestError('send either "instances" with "labels", or "dataset"');
  }
  if (request.instances !== undefined) {
    if (request.instances.length === 0) throw new BadRequestError('instances is empty: send at least one labelled instance');
    if (request.labels === undefined) throw new BadRequestError('"labels" is required with "instances"');
    if (request.labels.length !== request.instances.length) {
      throw new BadRequestError(`${request.instances.length} instances but ${request.labels.length} labels: send one label per instance`);
    }
  }
  return request;
}
