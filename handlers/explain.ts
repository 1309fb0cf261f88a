/**
 * POST /v2/models/{m}[/versions/{v}]/explain: integrated gradients, saliency, SmoothGrad or
 * KernelSHAP for each instance, mapped back to features, words or pixels (lib/ops/explain).
 * `?format=png` adds heatmap overlays for images.
 */
import { lambdaHandler, type Implementations } from '../lib/api/bind.js';
import { explainRoutes } from '../lib/api/routes/explain.js';
import { answerExplain } from '../lib/api/explain.js';
import { modelRefFrom } from '../lib/api/modelRef.js';

export const routes: Implementations<typeof explainRoutes> = {
  explain: async ({ request, params, query, body, services, time }) => answerExplain(services, modelRefFrom(params, query), body, query.format, request, time),
};

export const handler = lambdaHandler(explainRoutes, routes);
