/** The fine-tune request: data (inline or a data set), validation, training config, promotion. */
import { z } from 'zod';
import { BadRequestError } from '../../errors.js';

const data = {
  instances: z.array(z.unknown()).optional().describe('training inputs as in predict: feature records, strings, images or raw rows'),
  labels: z.array(z.unknown()).optional().describe('the true label (class name) or value of each instance'),
  dataset: z.string().optional().describe('a CSV or JSON Lines object in the model store (as for evaluate)'),
  labelColumn: z.string().min(1).default('label'),
  format: z.enum(['csv', 'jsonl']).optional(),
};

export const fineTuneConfig = z
  .object({
    epochs: z.number().int().min(1).max(500).default(10),
    batchSize: z.number().int().min(1).max(4096).default(32),
    learningRate: z.number().positive().max(10).default(0.001),
    optimizer: z.enum(['adam', 'sgd', 'rmsprop']).default('adam'),
    trainableLayers: z
      .union([z.literal('all'), z.object({ last: z.number().int().min(1) }).strict(), z.array(z.string()).min(1)])
      .default('all')
      .describe('"all", {"last": N} (the last N layers with weights), or layer names'),
    earlyStopping: z
      .object({ monitor: z.enum(['val_loss', 'val_acc', 'loss', 'acc']).default('val_loss'), patience: z.number().int().min(0).max(100).default(2) })
      .strict()
      .optional(),
    seed: z.number().int().min(0).default(42).describe('shuffling and the validation split'),
  })
  .strict();

export const fineTuneRequest = z
  .object({
    ...data,
    validation: z
      .union([
        z.object({ split: z.number().gt(0).lt(1) }).strict(),
        z.object(data).strict(),
      ])
      .default({ split: 0.2 })
      .describe('a fraction of the data held out, or separate labelled data'),
    config: fineTuneConfig.default(fineTuneConfig.parse({})),
    promote: z
      .object({
        alias: z.string(),
        ifBetter: z.enum(['accuracy', 'logLoss', 'f1', 'mse', 'mae', 'r2']).optional().describe('move the alias only if the new version beats it on this validation metric'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .describe('fine-tune request');

export type FineTuneRequest = z.infer<typeof fineTuneRequest>;
export type FineTuneConfig = z.infer<typeof fineTuneConfig>;

export function checkFineTuneRequest(request: FineTuneRequest): FineTuneRequest {
  const check = (part: { instances?: unknown[]; labels?: unknown[]; dataset?: string }, where: string) => {
    if ((part.instances === undefined) === (part.dataset === undefined)) throw new BadRequestError(`${where}: send either "instances" with "labels", or "dataset"`);
    if (part.instances !== undefined) {
      if (part.instances.length === 0) throw new BadRequestError(`${where}: instances is empty`);
      if (part.labels === undefined || part.labels.length !== part.instances.length) {
        throw new BadRequestError(`${where}: ${part.instances.length} instances need ${part.instances.length} labels, got ${part.labels?.length ?? 0}`);
      }
    }
  };
  check(request, 'training data');
  if (!('split' in request.validation)) check(request.validation, 'validation');
  return request;
}
