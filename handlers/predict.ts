/**
 * POST /v2/models/{m}[/versions/{v}]/infer (OIP v2), /v1/models/{m}[...]:predict (TF Serving) and
 * KServe's v1 /v1/models/{m}[...]:explain, which API Gateway sends here with every POST under /v1/models/;
 * POST /v2/models/{m}[/versions/{v}]/preprocess (what the model would receive).
 */
import { lambdaHandler, type Implementations } from '../lib/api/bind.js';
import { predictRoutes } from '../lib/api/routes/predict.js';
import { modelRefFrom } from '../lib/api/modelRef.js';
import { predict } from '../lib/ops/predict.js';
import { preprocess, previewPng } from '../lib/ops/preprocess.js';
import { binaryOutputsWanted, binaryResponse, HEADER_LENGTH } from '../lib/protocol/binaryData.js';
import { decodeOip, encodeOip, oipResponse, oipTensors } from '../lib/protocol/oip.js';
import { decodeTfServing, encodeTfServing } from '../lib/protocol/tfserving.js';

export const routes: Implementations<typeof predictRoutes> = {
  infer: async ({ params, query, body, services }) =>
    services.loader.withModel(modelRefFrom(params, query), async (loaded) => {
      const outputs = await predict(loaded, decodeOip(loaded.manifest, body), services.limits);
      const response = oipResponse(loaded.manifest, outputs, body);
      const binary = binaryOutputsWanted(body);
      if (!response.outputs.some((o) => binary(o.name))) return { body: encodeOip(loaded.manifest, outputs, body) };
      const { body: bytes, headerLength } = binaryResponse(response, binary);
      return { contentType: 'application/octet-stream', headers: { [HEADER_LENGTH]: String(headerLength) }, body: bytes };
    }),

  tfServingPredict: async ({ params, body, services }) =>
    services.loader.withModel(modelRefFrom(params), async (loaded) => {
      const input = decodeTfServing(loaded.manifest, body);
      const outputs = await predict(loaded, input, services.limits);
      const raw = body.raw ?? input.kind === 'tensors';
      return { body: encodeTfServing(loaded.manifest, outputs, { columnar: input.columnar, raw, topK: body.top_k }) };
    }),

  preprocess: async ({ params, query, body, services }) =>
    services.loader.withModel(modelRefFrom(params, query), async (loaded) => {
      const tensors = await preprocess(loaded, decodeTfServing(loaded.manifest, body), services.limits.budget);
      if (query.format === 'png') return { contentType: 'image/png', body: previewPng(loaded, tensors) };
      return { body: { model_name: loaded.name, model_version: String(loaded.version), outputs: oipTensors(tensors) } };
    }),

  // Imported on first use: explanations stay off the predict function's cold start.
  explainV1: async ({ request, params, query, body, services }) =>
    (await import('../lib/api/explain.js')).answerExplain(services, modelRefFrom(params), body, query.format, request.remainingMs),
};

export const handler = lambdaHandler(predictRoutes, routes);
