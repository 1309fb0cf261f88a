/**
 * The explain request: instances as predict takes them, a method, a target and the method's
 * parameters, all at the top level (KServe's v1 `:explain` body is `{"instances": [...]}`, which
 * is a valid request here: integrated gradients for the predicted class).
 */
import { z } from 'zod';
import { signatureName } from '../../protocol/tfserving.js';

export const EXPLAIN_METHODS = ['integratedGradients', 'saliency', 'smoothGrad', 'kernelShap'] as const;
export type ExplainMethod = (typeof EXPLAIN_METHODS)[number];

/** Limits that keep one request inside a Lambda's time and memory. */
export const LIMITS = {
  steps: 1024,
  samples: 1024,
  nSamples: 65_536,
  backgroundRows: 100,
  /** Model rows one request may evaluate (instances x steps, x samples, or coalitions x background rows). */
  modelRows: 1 << 20,
  /** Gradient rows one request may take (they cost several forward passes each). */
  gradientRows: 1 << 16,
  /**
   * kernelShap's regression per instance: coalitions x (features - 1)^2 multiply-adds to build
   * its normal equations (about 1 ns each: 3 s), which also bounds its memory (features^2 x 8
   * bytes, coalitions x features bytes) and the solve (features^3).
   */
  shapRegression: 2.5e9,
} as const;

const explainObject = z
  .object({
    instances: z.array(z.unknown()).min(1).describe('what to explain, as in predict: feature records, strings, {"b64": ...} images or raw tensor rows'),
    // TF Serving clients send it with every body; predict takes it (lib/protocol/tfserving.ts), so explain does too.
    signature_name: signatureName.describe('as in predict: the model\'s one signature, "serving_default" (or "")'),
    method: z.enum(EXPLAIN_METHODS).default('integratedGradients').describe('the attribution method'),
    target: z
      .union([z.number().int().min(0), z.string().min(1)], { error: 'expected a class index (a whole number from 0) or a label; on a regression model, an output index' })
      .optional()
      .describe('the class to explain, by index or label (regression: the output index). Default: the predicted class of each instance'),
    format: z.enum(['json', 'png']).optional().describe('png: image models also answer a base64 PNG heatmap overlay (also ?format=png)'),
    // integratedGradients
    baseline: z
      .union([z.enum(['zeros', 'mean']), z.array(z.number()), z.record(z.string(), z.unknown()), z.string()], {
        error: 'expected "zeros", "mean", one natural instance or one flat row of numbers',
      })
      .optional()
      .describe(
        'integratedGradients: "zeros" (every raw input 0: empty text, black image), "mean" (the feature means; other models: the mean of the stored background), or a value: a natural instance or a flat row of model inputs. Default: "mean" for tabular models, else "zeros"',
      ),
    steps: z.number().int().min(1).max(LIMITS.steps).optional().describe('integratedGradients: points on the path (default 50)'),
    integration: z.enum(['gaussLegendre', 'trapezoid']).optional().describe('integratedGradients: quadrature rule (default gaussLegendre, as Captum)'),
    // smoothGrad
    noiseLevel: z.number().min(0).max(10).optional().describe('smoothGrad: noise std as a fraction of the instance value range (default 0.15)'),
    samples: z.number().int().min(1).max(LIMITS.samples).optional().describe('smoothGrad: noisy copies averaged (default 50)'),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional()
      .describe('smoothGrad and sampled kernelShap: random seed (default 0: answers are reproducible)'),
    // kernelShap
    nSamples: z
      .number()
      .int()
      .min(1)
      .max(LIMITS.nSamples)
      .optional()
      .describe(
        'kernelShap: coalitions evaluated when more than 10 features vary (differ from the instance in some background row; default 2048); with at most 10 all are enumerated',
      ),
    background: z
      .array(z.unknown())
      .min(1)
      .max(LIMITS.backgroundRows)
      .optional()
      .describe(
        "kernelShap: reference instances, natural or raw (raw rows may be flattened, as the manifest stores them). Default: the manifest's stored sample (text: the empty text)",
      ),
    patchSize: z.number().int().min(1).max(64).optional().describe('kernelShap on images: side of the square patches that are the features (default: 7 patches across)'),
  })
  .strict();

export type ExplainRequest = z.output<typeof explainObject>;

/** Which parameters each method reads: any other is a mistake worth a 400, not silence. */
const PARAMETERS: Record<ExplainMethod, (keyof ExplainRequest)[]> = {
  integratedGradients: ['baseline', 'steps', 'integration'],
  saliency: [],
  smoothGrad: ['noiseLevel', 'samples', 'seed'],
  kernelShap: ['nSamples', 'background', 'patchSize', 'seed'],
};
const METHOD_PARAMETERS = [...new Set(Object.values(PARAMETERS).flat())];

export interface IntegratedGradientsParams {
  baseline: 'zeros' | 'mean' | 'given';
  steps: number;
  integration: 'gaussLegendre' | 'trapezoid';
}
export interface SmoothGradParams {
  noiseLevel: number;
  samples: number;
  seed: number;
}
export interface KernelShapParams {
  nSamples: number;
  /** request, manifest, zeros, or the input kind's name for its zero row (text: "empty text"). */
  background: string;
  seed: number;
  patchSize?: number;
}

/** Parameters of another method are a mistake worth a 400, not silence; so is a 1-point trapezoid. */
function checkParameters(request: ExplainRequest, context: z.RefinementCtx): void {
  const allowed = PARAMETERS[request.method];
  const misplaced = METHOD_PARAMETERS.filter((p) => request[p] !== undefined && !allowed.includes(p));
  if (misplaced.length > 0) {
    const owners = misplaced.map((p) => `${p} (${EXPLAIN_METHODS.filter((m) => PARAMETERS[m].includes(p)).join(', ')})`);
    context.addIssue({ code: 'custom', message: `${request.method} does not take ${owners.join(', ')}: it takes ${allowed.length ? allowed.join(', ') : 'no parameters'}` });
  }
  if (request.method === 'integratedGradients' && request.integration === 'trapezoid' && request.steps === 1) {
    context.addIssue({ code: 'custom', path: ['steps'], message: 'the trapezoid rule needs at least 2 points (the path ends)' });
  }
}

export const explainRequest = explainObject.superRefine(checkParameters).describe('explain request');
