/** The explain function's route. */
import { versioned, type RouteSpec } from '../route.js';
import { formatQuery } from './query.js';

/** What an explanation asks for less of, and what explains with no request timeout (both explain routes). */
export const EXPLAIN_UNTIMED = { fewer: 'steps, samples or instances', elsewhere: 'modelctl explain' };

export const explainRoutes = {
  explain: {
    fn: 'explain',
    untimed: EXPLAIN_UNTIMED,
    method: 'POST',
    paths: versioned('/v2/models/{model}', '/explain'),
    query: formatQuery,
    body: async () => (await import('../../ops/explain/request.js')).explainRequest,
    auth: 'read',
    summary: 'attributions (integrated gradients, saliency, SmoothGrad, KernelSHAP) per feature, word or pixel',
    responses: { '200': { description: 'explanations', schema: async () => (await import('../../ops/explain/response.js')).explainResponse } },
  },
} as const satisfies Record<string, RouteSpec>;
