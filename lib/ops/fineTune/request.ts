/** The fine-tune request: data (inline or a data set), validation, training config, promotion. */
import { z } from 'zod';
import { validateWritableAlias } from '../../registry/names.js';
import { checkLabelled, labelledFields, type LabelledSource } from '../labelledData.js';

const data = labelledFields;

/** The rule setAlias applies (a valid name, not the implicit `latest`), checked here so a job never trains for an alias it cannot set. */
function refuseUnwritableAlias(alias: string, context: z.RefinementCtx): void {
  try {
    validateWritableAlias(alias);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
}

/** The validation metrics promote.ifBetter may compare, by the task that reports them (evaluate's headline numbers). */
export const PROMOTION_METRICS = { classes: ['accuracy', 'logLoss', 'f1'], regression: ['mse', 'mae', 'r2'] } as const;

export const fineTuneConfig = z
  .object({
    epochs: z.number().int().min(1).max(500).default(10),
    batchSize: z.number().int().min(1).max(4096).default(32),
    learningRate: z.number().positive().max(10).default(0.001),
    optimizer: z.enum(['adam', 'sgd', 'rmsprop']).default('adam'),
    trainableLayers: z
      .union([z.literal('all'), z.object({ last: z.number().int().min(1) }).strict(), z.array(z.string()).min(1)], {
        error: 'expected "all", {"last": N} (N a whole number from 1) or a list of layer names',
      })
      .default('all')
      .describe('"all", {"last": N} (the last N layers with weights), or layer names'),
    earlyStopping: z
      .object({
        monitor: z.enum(['val_loss', 'val_acc', 'loss', 'acc']).default('val_loss'),
        patience: z.number().int().min(0).max(100).default(2).describe('epochs without improvement before stopping (as in Keras and TF.js: 0 and 1 both stop at the first)'),
        minDelta: z.number().min(0).default(0).describe('a change smaller than this is no improvement'),
        baseline: z.number().optional().describe('the value to beat from the first epoch on'),
      })
      .strict()
      .optional()
      .describe("stops when the monitored value has not improved for `patience` epochs, as TF.js's tf.callbacks.earlyStopping"),
    seed: z.number().int().min(0).default(42).describe('shuffling and the validation split (taken modulo 2^32)'),
  })
  .strict();

const fineTuneObject = z
  .object({
    ...data,
    validation: z
      .union([z.object({ split: z.number().gt(0).lt(1) }).strict(), z.object(data).strict()], {
        error: 'expected {"split": a fraction between 0 and 1, both excluded} or labelled data of its own ("instances" and "labels", or a "dataset")',
      })
      .default({ split: 0.2 })
      .describe('a fraction of the data held out, or separate labelled data'),
    config: fineTuneConfig.default(fineTuneConfig.parse({})),
    promote: z
      .object({
        alias: z.string().superRefine(refuseUnwritableAlias),
        ifBetter: z
          .enum([...PROMOTION_METRICS.classes, ...PROMOTION_METRICS.regression])
          .optional()
          .describe("move the alias only if the new version beats it on this validation metric (one the model's task reports)"),
      })
      .strict()
      .optional(),
  })
  .strict();

export const fineTuneRequest = fineTuneObject
  .superRefine((request, context) => {
    checkLabelled(request, context);
    if (!('split' in request.validation)) checkLabelled(request.validation, context, ['validation']);
  })
  .transform((request) => request as FineTuneRequest)
  .describe('fine-tune request');

type Parsed = z.output<typeof fineTuneObject>;
/** A parsed request: its training data and its validation data (unless a split) are each one of the two shapes. */
export type FineTuneRequest = Omit<Parsed, keyof LabelledSource | 'validation'> & LabelledSource & { validation: { split: number } | LabelledSource };
export type FineTuneConfig = z.infer<typeof fineTuneConfig>;
