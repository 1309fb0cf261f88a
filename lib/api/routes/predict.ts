/** The predict function's routes: OIP v2 and TF Serving inference (:predict, :classify, :regress); KServe's v1 `:explain` arrives here too (API Gateway's greedy v1 route). */
import { z } from 'zod';
import { BINARY, versioned, type RouteSpec } from '../route.js';
import { EXPLAIN_UNTIMED } from './explain.js';
import { aliasQuery, formatQuery, noQuery } from './query.js';

const oip = () => import('../../protocol/oip.js');
const tfServing = () => import('../../protocol/tfserving.js');
const examples = () => import('../../protocol/tfServingExamples.js');
const tfServingBody = async () => (await import('../tfServingBody.js')).readTfServingBody;

/** Scoring with no request timeout: every row of a file, in as many invocations as it takes. */
const SCORE_ELSEWHERE = 'batch scoring: an upload under batch/input/{model}/, or modelctl batch';

export const predictRoutes = {
  infer: {
    fn: 'predict',
    untimed: { fewer: 'instances', elsewhere: SCORE_ELSEWHERE },
    method: 'POST',
    paths: versioned('/v2/models/{model}', '/infer'),
    query: aliasQuery,
    body: async () => (await oip()).oipInferRequest,
    readBody: async () => (await import('../oipBody.js')).readOipBody,
    headers: {
      'Inference-Header-Content-Length':
        "binary tensor data extension: the byte length of the JSON header; the bytes after it are the values of the inputs with parameters.binary_data_size, in order (little-endian; BYTES elements length-prefixed). 0: a raw binary request, the body one row of the model's one input (a PNG or JPEG for an image model, a text/plain text for a text model), every output answered in binary",
    },
    auth: 'read',
    summary: 'Open Inference Protocol v2 inference (JSON, or the binary tensor data extension)',
    responses: {
      '200': {
        description:
          'inference result: JSON, or (outputs asked with parameters.binary_data or binary_data_output) application/octet-stream: a JSON header of the length given by Inference-Header-Content-Length, then the binary outputs',
        schema: async () => (await oip()).oipInferResponse,
        media: { 'application/octet-stream': BINARY },
      },
    },
    answerHeaders: {
      '200': { 'Inference-Header-Content-Length': { description: 'on a binary answer: the byte length of its JSON header', schema: { type: 'integer' } } },
    },
  },
  tfServingPredict: {
    fn: 'predict',
    untimed: { fewer: 'instances', elsewhere: SCORE_ELSEWHERE },
    method: 'POST',
    paths: versioned('/v1/models/{model}', ':predict', { labels: true }),
    gateway: '/v1/models/{proxy+}',
    query: noQuery,
    body: async () => (await tfServing()).tfServingPredictRequest,
    readBody: tfServingBody,
    auth: 'read',
    summary: 'TF Serving REST predict (row `instances` or columnar `inputs`)',
    responses: { '200': { description: 'predictions', schema: async () => (await tfServing()).tfServingPredictResponse } },
  },
  tfServingClassify: {
    fn: 'predict',
    untimed: { fewer: 'examples', elsewhere: SCORE_ELSEWHERE },
    method: 'POST',
    paths: versioned('/v1/models/{model}', ':classify', { labels: true }),
    gateway: '/v1/models/{proxy+}',
    query: noQuery,
    body: async () => (await examples()).tfServingExamplesRequest,
    readBody: tfServingBody,
    auth: 'read',
    summary: "TF Serving REST classify: feature dictionaries (`examples`, `context`) -> each class's label and score (classifiers)",
    responses: { '200': { description: 'classes and scores', schema: async () => (await examples()).tfServingClassifyResponse } },
  },
  tfServingRegress: {
    fn: 'predict',
    untimed: { fewer: 'examples', elsewhere: SCORE_ELSEWHERE },
    method: 'POST',
    paths: versioned('/v1/models/{model}', ':regress', { labels: true }),
    gateway: '/v1/models/{proxy+}',
    query: noQuery,
    body: async () => (await examples()).tfServingExamplesRequest,
    readBody: tfServingBody,
    auth: 'read',
    summary: 'TF Serving REST regress: feature dictionaries (`examples`, `context`) -> one value each (regression models)',
    responses: { '200': { description: 'values', schema: async () => (await examples()).tfServingRegressResponse } },
  },
  preprocess: {
    fn: 'predict',
    untimed: { fewer: 'instances' },
    method: 'POST',
    paths: versioned('/v2/models/{model}', '/preprocess'),
    query: aliasQuery.extend({ format: z.enum(['json', 'png']).optional().describe('png: an image model answers a PNG of the one instance as the model sees it') }),
    body: async () => (await tfServing()).preprocessRequest,
    auth: 'read',
    summary: 'the tensors the model would receive for these instances (OIP output tensors), or a PNG of an image as the model sees it',
    responses: {
      '200': {
        description: 'the input tensors (JSON, as OIP output tensors), or image/png with format=png',
        schema: async () => (await oip()).oipInferResponse,
        media: { 'image/png': BINARY },
      },
    },
  },
  explainV1: {
    fn: 'predict',
    untimed: EXPLAIN_UNTIMED,
    method: 'POST',
    paths: versioned('/v1/models/{model}', ':explain', { labels: true }),
    gateway: '/v1/models/{proxy+}',
    // TF Serving's form: a version or an alias is named in the path (/versions/{version}, /labels/{alias}).
    query: formatQuery.pick({ format: true }),
    body: async () => (await import('../../ops/explain/request.js')).explainRequest,
    auth: 'read',
    summary: 'KServe v1 explain (the predict function serves it: API Gateway sends it every POST under /v1/models/)',
    responses: { '200': { description: 'explanations', schema: async () => (await import('../../ops/explain/response.js')).explainResponse } },
  },
} as const satisfies Record<string, RouteSpec>;
