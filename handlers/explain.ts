/**
 * POST /v2/models/{m}[/versions/{v}]/explain and the KServe v1 verb /v1/models/{m}[...]:explain:
 * integrated gradients, saliency, SmoothGrad or KernelSHAP for each instance, mapped back to
 * features, words or pixels (lib/ops/explain). `?format=png` adds heatmap overlays for images.
 */
import { config } from '../lib/config.js';
import { BadRequestError, PayloadTooLargeError } from '../lib/errors.js';
import { jsonBody } from '../lib/http/body.js';
import { httpHandler } from '../lib/http/handler.js';
import { modelRefFrom, versionedPaths } from '../lib/http/modelRef.js';
import type { Route, RouteRequest } from '../lib/http/router.js';
import { modelLoader } from '../lib/loader/index.js';
import type { ModelRef } from '../lib/registry/index.js';
import { explainRequest } from '../lib/ops/explain/request.js';
import { explain } from '../lib/ops/explain/service.js';

async function answer(request: RouteRequest, ref: ModelRef) {
  const body = jsonBody(request, explainRequest);
  const { explainMaxInstances } = config();
  if (body.instances.length > explainMaxInstances) {
    throw new PayloadTooLargeError(`${body.instances.length} instances; explain takes at most ${explainMaxInstances} per request (EXPLAIN_MAX_INSTANCES)`);
  }
  const format = request.query.format;
  if (format !== undefined && format !== 'json' && format !== 'png') throw new BadRequestError(`format: expected json or png, got ${JSON.stringify(format)}`);
  return modelLoader().withModel(ref, async (loaded) => ({ body: await explain(loaded, { ...body, format: format ?? body.format }, config().maxBatch) }));
}

const v2: Route[] = versionedPaths('/v2/models/{model}', '/explain').map((path) => ({
  method: 'POST',
  path,
  handle: (request) => answer(request, modelRefFrom(request.params, request.query)),
}));

/** KServe v1 `:explain`. The predict function also serves these: API Gateway sends it every POST under /v1/models/. */
export const v1ExplainRoutes: Route[] = versionedPaths('/v1/models/{model}', ':explain', { labels: true }).map((path) => ({
  method: 'POST',
  path,
  handle: (request) => answer(request, modelRefFrom(request.params)),
}));

export const handler = httpHandler([...v2, ...v1ExplainRoutes]);
