/**
 * The answers of the metadata routes as zod schemas: the source of their OpenAPI documentation
 * (lib/api/openapi.ts), as the request schemas are of theirs. lib/ops/metadata.ts and
 * handlers/metadata.ts build the answers; test/integration/openapiResponses.test.ts checks every
 * route's real answers against the document.
 */
import { z } from 'zod';
import { manifestSchema } from '../registry/manifest.js';
import { OIP_DATATYPES, type OipDatatype } from './datatypes.js';

const version = z.string().describe('a version number, as a string');

/** OIP v2's $metadata_tensor, with its parameters (this service's extension). */
const metadataTensor = z.object({
  name: z.string(),
  datatype: z.enum(OIP_DATATYPES as [OipDatatype, ...OipDatatype[]]),
  shape: z.array(z.number().int().min(-1)).describe('-1 for a variable size; [-1] with parameters.unknown_rank for a tensor of unknown rank; [] a scalar'),
  parameters: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'unknown_rank; fixed_batch_size on the inputs of a model whose signature fixes its batch size (its shapes show -1 there: requests take any number of rows); on the first input of a model with natural inputs: raw_tensor, natural_input, content_types',
    ),
});

export const serverMetadataResponse = z
  .object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) })
  .describe('OIP v2 server metadata: name, version, and the extensions it speaks');

export const liveResponse = z.object({ live: z.literal(true) }).describe('OIP v2 server liveness');

export const readyResponse = z.object({ ready: z.literal(true), backend: z.string().describe('the TF.js backend running') }).describe('OIP v2 server readiness');

const aliases = z.record(z.string(), z.number().int().positive()).describe('alias -> version');

export const modelListResponse = z
  .object({ models: z.array(z.object({ name: z.string(), versions: z.array(version), latest: version, aliases })) })
  .describe('every model with its versions and aliases');

export const modelMetadataResponse = z
  .object({
    name: z.string(),
    versions: z.array(version).describe('every version that may be asked for (stale: the version loaded only)'),
    platform: z.string().describe('tensorflowjs_layers or tensorflowjs_graph'),
    inputs: z.array(metadataTensor),
    outputs: z.array(metadataTensor).describe("every output infer answers: a classifier's include label (BYTES)"),
    // Extensions (OIP allows extra fields).
    version: version.describe('the version described'),
    aliases: aliases.optional(),
    evaluations: z.array(z.object({ id: z.string(), source: z.string(), count: z.number().int(), metrics: z.record(z.string(), z.number()), createdAt: z.string() })).optional(),
    evaluationCount: z.number().int().min(0).optional(),
    stale: z.literal(true).optional().describe('the store cannot be read now: answered from the model in memory'),
    task: manifestSchema.shape.task,
    answerOutput: z.string().describe('the output the task, labels, scores and answers are of (of several: the first listed, chosen at push with --output)'),
    scores: manifestSchema.shape.scores.describe(
      "a classifier's: what its raw outputs hold (probabilities, log-probabilities or logits); labels and scores in answers are probabilities",
    ),
    labels: manifestSchema.shape.labels,
    description: manifestSchema.shape.description,
    naturalInput: z.record(z.string(), z.unknown()).optional().describe('what natural instances look like (kind and its settings)'),
    metrics: manifestSchema.shape.metrics.describe('held-out test metrics'),
    lineage: manifestSchema.shape.lineage,
    createdAt: z.string(),
    layers: z
      .array(z.object({ name: z.string(), type: z.string(), outputShape: z.unknown(), params: z.number().int() }))
      .optional()
      .describe('layers models only'),
    totalParams: z.number().int().optional(),
  })
  .describe('OIP v2 model metadata, plus task, labels, natural inputs, metrics and layers');

export const modelReadyResponse = z.object({ name: z.string(), version, ready: z.literal(true) }).describe('OIP v2 model readiness (the model is loaded)');

export const tfServingStatusResponse = z
  .object({
    model_version_status: z.array(
      z.union([
        z.object({
          version,
          state: z.enum(['AVAILABLE', 'LOADING']).describe('AVAILABLE: served, or loaded on demand; LOADING: its load outlasted the request, and goes on'),
          status: z.object({ error_code: z.literal('OK'), error_message: z.literal('') }),
        }),
        z.object({
          version,
          state: z.literal('END').describe('the version exists but cannot be served'),
          status: z.object({
            error_code: z
              .enum(['DATA_LOSS', 'FAILED_PRECONDITION'])
              .describe('DATA_LOSS: its files or manifest do not match; FAILED_PRECONDITION: TF.js cannot build it, or this backend cannot run it'),
            error_message: z.string().describe('what to do'),
          }),
        }),
      ]),
    ),
  })
  .describe('TF Serving GetModelStatusResponse');

const tensorInfo = z.object({
  dtype: z.enum(['DT_FLOAT', 'DT_INT32', 'DT_BOOL', 'DT_STRING', 'DT_UINT8', 'DT_INT8', 'DT_UINT16', 'DT_INT16']),
  tensor_shape: z.object({ dim: z.array(z.object({ size: z.string().describe('-1 for a variable size'), name: z.string() })), unknown_rank: z.boolean() }),
  name: z.string().describe('the graph node that computes it'),
});

export const tfServingMetadataResponse = z
  .object({
    model_spec: z.object({ name: z.string(), signature_name: z.string(), version }),
    metadata: z.object({
      signature_def: z.object({
        signature_def: z.record(z.string(), z.object({ inputs: z.record(z.string(), tensorInfo), outputs: z.record(z.string(), tensorInfo), method_name: z.string() })),
      }),
    }),
  })
  .describe('TF Serving GetModelMetadataResponse: one serving_default SignatureDef');

export const openApiResponse = z
  .object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.record(z.string(), z.unknown())) })
  .describe('this document');
