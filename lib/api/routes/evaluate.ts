/** The evaluate function's route. */
import { versioned, type RouteSpec } from '../route.js';
import { accepted, evaluateQuery } from './query.js';

export const evaluateRoutes = {
  evaluate: {
    fn: 'evaluate',
    method: 'POST',
    paths: versioned('/v2/models/{model}', '/evaluate'),
    query: evaluateQuery,
    body: async () => (await import('../../ops/evaluate/request.js')).evaluateRequest,
    auth: 'public',
    summary: 'metrics on labelled data (inline, or a CSV/JSON Lines data set in the store)',
    responses: { '200': { description: 'the evaluation (JSON, or HTML with report=html)' }, ...accepted, '403': { description: 'data set outside the model store' } },
  },
} as const satisfies Record<string, RouteSpec>;
