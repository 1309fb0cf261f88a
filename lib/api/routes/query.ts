/**
 * Query parameters, validated and documented like bodies. Every route declares its own (noQuery
 * when it takes none) and every one is strict: a parameter a route does not take is a 400 naming it
 * (lib/api/queryParameters.ts), not ignored. Ignored, `?alias=nope` on TF Serving's :predict was
 * answered from production and `?version=99` from the default version, with a 200 that looked like
 * the version asked for. API Gateway adds no query parameter of its own; a request signed in its
 * query string (a presigned URL to an IAM route) carries SigV4's, which queryParameters.ts sets aside
 * before a route's schema reads the rest.
 */
import { z } from 'zod';

/** A route that takes no query parameter. */
export const noQuery = z.strictObject({});

export const aliasQuery = z.strictObject({
  alias: z.string().optional().describe('serve the version this alias points to (default: production when it exists, else the highest version)'),
});

export const formatQuery = aliasQuery.extend({
  format: z.enum(['json', 'png']).optional().describe('png: image models also answer a base64 PNG heatmap overlay'),
});

export const evaluateQuery = aliasQuery.extend({
  async: z.enum(['true', 'false']).optional().describe('true: answer 202 with a job and evaluate in the job worker (poll /v2/jobs/{id})'),
  report: z
    .enum(['json', 'html'])
    .optional()
    .describe('html: a self-contained HTML report (metrics, confusion matrix, ROC curves); with async=true a 400 (a job keeps its result as JSON)'),
});

/** `?from=N`: an alias change made only while the alias points at version N. */
const fromVersion = (why: string) =>
  z
    .string()
    .regex(/^[1-9]\d{0,8}$/, 'expected a version, an integer from 1 to 999999999')
    .transform(Number)
    .optional()
    .describe(why);

export const rollbackQuery = z.strictObject({
  from: fromVersion(
    'roll back only while the alias points at this version (else 409, nothing changed): sending a rollback again after its answer was lost then cannot take the alias back twice',
  ),
});

export const deleteAliasQuery = z.strictObject({
  from: fromVersion('delete only while the alias points at this version (else 409, nothing deleted): a delete never removes a move made since the client looked'),
});

/** The answer of a route that starts a job. */
export const accepted = {
  '202': { description: 'accepted as a job: poll /v2/jobs/{id}', schema: async () => (await import('../../jobs/submit.js')).jobAcceptedResponse },
  '422': { description: 'the Idempotency-Key was sent before with another request' },
};

/** The header a job's submission takes: its retry finds the job the first made (lib/jobs/idempotency.ts). */
export const idempotencyHeader = {
  'Idempotency-Key':
    'a key of the client (1 to 255 printable ASCII characters, a UUID say) naming this submission: sent again with the same request, it answers the job the first made (a worker that could not be started is started again), never a second job; with another request, a 422',
};
