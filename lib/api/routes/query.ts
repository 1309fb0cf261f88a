/** Query parameters shared by several routes, validated and documented like bodies. */
import { z } from 'zod';

export const aliasQuery = z.object({
  alias: z.string().optional().describe('serve the version this alias points to (default: production when it exists, else the highest version)'),
});

export const formatQuery = aliasQuery.extend({
  format: z.enum(['json', 'png']).optional().describe('png: image models also answer a base64 PNG heatmap overlay'),
});

export const evaluateQuery = aliasQuery.extend({
  async: z.enum(['true', 'false']).optional().describe('true: answer 202 with a job and evaluate in the job worker (poll /v2/jobs/{id})'),
  report: z.enum(['json', 'html']).optional().describe('html: a self-contained HTML report (metrics, confusion matrix, ROC curves)'),
});

/** The answer of a route that starts a job. */
export const accepted = { '202': { description: 'accepted as a job: poll /v2/jobs/{id}' } };
