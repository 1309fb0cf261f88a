/** POST /v2/models/{m}[/versions/{v}]/infer (OIP v2) and /v1/models/{m}[...]:predict (TF Serving). */
import { config } from '../lib/config.js';
import { jsonBody } from '../lib/http/body.js';
import { httpHandler } from '../lib/http/handler.js';
import { modelRefFrom, versionedPaths } from '../lib/http/modelRef.js';
import type { Route } from '../lib/http/router.js';
import { modelLoader } from '../lib/loader/index.js';
import { predict } from '../lib/ops/predict.js';
import { decodeOip, encodeOip, oipInferRequest } from '../lib/protocol/oip.js';
import { decodeTfServing, encodeTfServing, tfServingPredictRequest } from '../lib/protocol/tfserving.js';
import { v1ExplainRoutes } from './explain.js';

const infer: Route[] = versionedPaths('/v2/models/{model}', '/infer').map((path) => ({
  method: 'POST',
  path,
  async handle(request) {
    const ref = modelRefFrom(request.params, request.query);
    const body = jsonBody(request, oipInferRequest);
    return modelLoader().withModel(ref, async (loaded) => {
      const outputs = await predict(loaded, decodeOip(loaded.manifest, body), config().maxBatch);
      return { body: encodeOip(loaded.manifest, outputs, body) };
    });
  },
}));

const tfServingPredict: Route[] = versionedPaths('/v1/models/{model}', ':predict', { labels: true }).map((path) => ({
  method: 'POST',
  path,
  async handle(request) {
    const ref = modelRefFrom(request.params);
    const body = jsonBody(request, tfServingPredictRequest);
    return modelLoader().withModel(ref, async (loaded) => {
      const plan = decodeTfServing(loaded.manifest, body);
      const outputs = await predict(loaded, plan, config().maxBatch);
      const raw = body.raw ?? plan.kind === 'tensors';
      return { body: encodeTfServing(loaded.manifest, outputs, { columnar: plan.columnar, raw, topK: body.top_k }) };
    });
  },
}));

// API Gateway sends every POST under /v1/models/ here (serverless.yml), KServe's `:explain` verb included.
export const handler = httpHandler([...infer, ...tfServingPredict, ...v1ExplainRoutes]);
