/**
 * The explain answer's shape, as a zod schema: the source of the OpenAPI documentation
 * (lib/protocol/openapi.ts). service.ts builds the answer; this file only describes it.
 */
import { z } from 'zod';
import { EXPLAIN_METHODS } from './request.js';

const attribution = z.number().describe('contribution to the target score, in the units of the score');

const instanceExplanation = z
  .object({
    target: z.object({ index: z.number().int(), label: z.string().optional() }).describe('what was explained'),
    score: z.number().describe('the target score at the instance, f(x)'),
    // integratedGradients
    baselineScore: z.number().optional().describe('integratedGradients: f(baseline)'),
    convergenceDelta: z.number().optional().describe('integratedGradients: sum(attributions) - (f(x) - f(baseline)); completeness says 0, so this is the quadrature error'),
    // smoothGrad
    noiseStd: z.number().optional().describe('smoothGrad: the noise standard deviation used, in model-input units'),
    // kernelShap
    expectedValue: z.number().optional().describe('kernelShap: E[f] over the background (all features from the background); sum(shapValues) = score - expectedValue'),
    exact: z.boolean().optional().describe('kernelShap: every coalition was evaluated (at most 10 features vary; the others are 0): exact Shapley values'),
    coalitions: z.number().int().optional().describe('kernelShap: coalitions used'),
    shapValues: z.array(z.number()).optional().describe('kernelShap: one value per feature, in featureNames order (0 for a feature equal to the instance in every background row)'),
    featureNames: z.array(z.string()).optional().describe('kernelShap: the features: tabular columns, the words present, or image patches (yRxC: top-left pixel)'),
    // the mapping back to what was sent
    features: z
      .array(z.object({ name: z.string(), value: z.number(), attribution }))
      .optional()
      .describe('tabular: one entry per feature, sorted by |attribution| (saliency and smoothGrad: per unit of the value as sent)'),
    tokens: z
      .array(z.object({ token: z.string(), attribution, inVocabulary: z.boolean() }))
      .optional()
      .describe("text: every token in the original order with its word's attribution; words outside the vocabulary get 0"),
    words: z
      .array(z.object({ word: z.string(), count: z.number(), attribution }))
      .optional()
      .describe('text: each vocabulary word of the instance once, sorted by |attribution|'),
    otherWords: z
      .number()
      .optional()
      .describe('text, integratedGradients and kernelShap: the attributions of the rest of the vocabulary, summed (0 unless the baseline or background has words)'),
    heatmap: z.array(z.array(z.number())).optional().describe('image: [height][width], the signed sum over channels'),
    png: z.string().optional().describe('image with format png: base64 PNG, the heatmap over the image in grey (red positive, blue negative)'),
    attributions: z.unknown().optional().describe('models without an input transform: attributions in the shape of one instance'),
  })
  .describe('the explanation of one instance');

export const explainResponse = z
  .object({
    meta: z.object({
      method: z.enum(EXPLAIN_METHODS),
      params: z.record(z.string(), z.unknown()).describe('the parameters used, defaults filled in'),
      modelName: z.string(),
      modelVersion: z.string(),
      score: z.string().describe('what the explained score is: class probability, P or 1 - P for binary models, or the output value'),
      output: z.string().describe("the model output the score is read from: of a model with several, the one its answers read (the push's --output)"),
    }),
    data: z.object({ explanations: z.array(instanceExplanation) }),
    predictions: z.array(z.unknown()).describe('the model answers for the instances, as predict labels them'),
  })
  .describe('explain response (the shape Alibi-style explainers use)');
