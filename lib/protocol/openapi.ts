/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests, so the
 * documentation cannot drift from what the handlers accept. Served at GET /openapi.json and
 * written to docs/openapi.json by the build.
 */
import { z } from 'zod';
import { oipInferRequest, oipInferResponse } from './oip.js';
import { tfServingPredictRequest, tfServingPredictResponse } from './tfserving.js';
import { explainRequest } from '../ops/explain/request.js';
import { explainResponse } from '../ops/explain/response.js';
import { evaluateRequest } from '../ops/evaluate/request.js';
import { fineTuneRequest } from '../ops/fineTune/request.js';

const errorBody = z.object({ error: z.string(), requestId: z.string().optional() }).describe('error answer');

const schema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
const json = (s: z.ZodType) => ({ content: { 'application/json': { schema: schema(s) } } });

const errors = {
  '400': { description: 'bad request: the message names the field and what was expected', ...json(errorBody) },
  '404': { description: 'unknown model, version or alias', ...json(errorBody) },
  '413': { description: 'body over 6 MB', ...json(errorBody) },
  '503': { description: 'the model cannot be loaded now (Retry-After)', ...json(errorBody) },
};

const param = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const model = param('model', 'model name');
const version = param('version', 'an integer version');
const alias = param('alias', 'an alias such as production');

function variants(base: string, suffix: string, operation: object, labels = false): Record<string, object> {
  const out: Record<string, object> = {
    [`${base}${suffix}`]: { ...operation, parameters: [model] },
    [`${base}/versions/{version}${suffix}`]: { ...operation, parameters: [model, version] },
  };
  if (labels) out[`${base}/labels/{alias}${suffix}`] = { ...operation, parameters: [model, alias] };
  return out;
}

const simpleGet = (summary: string) => ({ get: { summary, responses: { '200': { description: 'OK' }, ...errors } } });

export function openApiDocument(): object {
  const infer = {
    post: {
      summary: 'Open Inference Protocol v2 inference',
      requestBody: { required: true, ...json(oipInferRequest) },
      responses: { '200': { description: 'inference result', ...json(oipInferResponse) }, ...errors },
    },
  };
  const predict = {
    post: {
      summary: 'TF Serving REST predict (row `instances` or columnar `inputs`)',
      requestBody: { required: true, ...json(tfServingPredictRequest) },
      responses: { '200': { description: 'predictions', ...json(tfServingPredictResponse) }, ...errors },
    },
  };
  const explain = {
    post: {
      summary: 'Explain predictions: integratedGradients, saliency, smoothGrad or kernelShap, mapped to features, words or pixels (?format=png adds image overlays)',
      requestBody: { required: true, ...json(explainRequest) },
      responses: { '200': { description: 'explanations', ...json(explainResponse) }, ...errors },
    },
  };
  const evaluate = {
    post: {
      summary: 'Metrics on labelled data (inline or a CSV/JSONL data set in the store); ?async=true answers 202 with a job, ?report=html an HTML report',
      requestBody: { required: true, ...json(evaluateRequest) },
      responses: { '200': { description: 'the evaluation' }, '202': { description: 'accepted as a job: poll /v2/jobs/{id}' }, '403': { description: 'data set outside the model store', ...json(errorBody) }, ...errors },
    },
  };
  const fineTune = {
    post: {
      summary: 'Train a new version from this one (IAM-authorized); answers 202 with a job',
      requestBody: { required: true, ...json(fineTuneRequest) },
      responses: { '202': { description: 'accepted as a job: poll /v2/jobs/{id}' }, ...errors },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'TF.js serving on AWS Lambda', version: '0.1.0', description: 'Predict, explain, evaluate and fine-tune TensorFlow.js models (OIP v2 and TF Serving REST shapes), with metadata, health and jobs.' },
    paths: {
      '/v2/health/live': simpleGet('liveness'),
      '/v2/health/ready': simpleGet('readiness (TF.js backend started)'),
      '/v2/models': simpleGet('every model with versions and aliases'),
      ...variants('/v2/models/{model}', '', simpleGet('model metadata (OIP v2, plus task, labels, metrics, layers)')),
      ...variants('/v2/models/{model}', '/ready', simpleGet('model readiness (loads it)')),
      ...variants('/v2/models/{model}', '/infer', infer),
      ...variants('/v1/models/{model}', '', simpleGet('TF Serving model status'), true),
      ...variants('/v1/models/{model}', '/metadata', simpleGet('TF Serving signature metadata'), true),
      ...variants('/v1/models/{model}', ':predict', predict, true),
      ...variants('/v2/models/{model}', '/explain', explain),
      ...variants('/v1/models/{model}', ':explain', explain, true),
      ...variants('/v2/models/{model}', '/evaluate', evaluate),
      ...variants('/v2/models/{model}', '/fine-tune', fineTune),
      '/v2/models/{model}/aliases/{alias}': {
        put: {
          summary: 'point an alias at a version (IAM-authorized)',
          parameters: [model, alias],
          requestBody: { required: true, ...json(z.object({ version: z.number().int().positive() })) },
          responses: { '200': { description: 'the alias record, with the versions it pointed to before' }, ...errors },
        },
      },
      '/v2/models/{model}/aliases/{alias}/rollback': {
        post: { summary: 'move an alias back to its previous version (IAM-authorized)', parameters: [model, alias], responses: { '200': { description: 'the alias record' }, '409': { description: 'nothing to roll back to', ...json(errorBody) }, ...errors } },
      },
      '/v2/jobs/{id}': { get: { summary: 'a job: status, progress, result or error', parameters: [param('id', 'the job id')], responses: { '200': { description: 'the job record' }, ...errors } } },
      '/openapi.json': simpleGet('this document'),
    },
  };
}
