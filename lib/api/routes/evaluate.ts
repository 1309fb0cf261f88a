/**
 * The evaluate functions' routes: evaluate answers metrics and changes nothing (a read);
 * evaluations saves them or runs them as a job (a write: behind IAM, in a function allowed to
 * write the store and start the worker).
 */
import { z } from 'zod';
import { versioned, type RouteSpec } from '../route.js';
import { accepted, evaluateQuery } from './query.js';

const evaluateBody = async () => (await import('../../ops/evaluate/request.js')).evaluateRequest;

const evaluation = {
  description: 'the evaluation (JSON, or HTML with report=html)',
  schema: async () => (await import('../../ops/evaluate/response.js')).evaluationResponse,
  media: { 'text/html': { schema: { type: 'string' } } },
};

export const evaluateRoutes = {
  evaluate: {
    fn: 'evaluate',
    untimed: { fewer: 'rows', elsewhere: 'an evaluation job, POST .../evaluations?async=true, or modelctl evaluate' },
    method: 'POST',
    paths: versioned('/v2/models/{model}', '/evaluate'),
    // async is read only to refuse it with a 403 naming the route that takes it (handlers/evaluate.ts).
    query: evaluateQuery.pick({ alias: true, report: true }).extend({
      async: z.enum(['true', 'false']).optional().describe('true is refused (403): running an evaluation as a job is POST .../evaluations, behind IAM'),
    }),
    body: evaluateBody,
    auth: 'read',
    summary: 'metrics on labelled data (inline, or a CSV/JSON Lines data set in the store), answered now and not kept',
    responses: {
      '200': evaluation,
      '403': { description: 'data set outside the model store; or save or async asked here (use POST .../evaluations)' },
    },
  },
} as const satisfies Record<string, RouteSpec>;

export const evaluationsRoutes = {
  createEvaluation: {
    fn: 'evaluations',
    method: 'POST',
    paths: versioned('/v2/models/{model}', '/evaluations'),
    query: evaluateQuery,
    body: evaluateBody,
    headers: {
      'Idempotency-Key':
        'a key of the client (1 to 255 printable ASCII characters, a UUID say) naming this submission: sent again with the same request, a job (async=true) answers the job the first made (a worker that could not be started is started again), and an evaluation saved now answers the evaluation the first saved, never a second; with another request, a 422. A request refused (4xx) uses no key',
    },
    auth: 'write',
    summary: 'an evaluation kept under the version (save: true) or run as a job (async=true): IAM-signed',
    responses: { '200': evaluation, ...accepted, '403': { description: 'data set outside the model store' } },
  },
} as const satisfies Record<string, RouteSpec>;
