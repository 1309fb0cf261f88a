/**
 * Scores one micro-batch of rows. A bad row must not sink the batch: when the batch as a whole
 * is refused, each row is checked alone, the bad ones are reported with their reason, and the
 * good ones are scored together.
 */
import { BadRequestError } from '../errors.js';
import type { LoadedModel } from '../loader/index.js';
import { predict } from '../ops/predict.js';
import { instanceOf } from '../ops/rowInstance.js';
import { decodeTfServing } from '../protocol/tfserving.js';
import { encodeNatural } from '../transforms/natural.js';
import type { Manifest } from '../registry/index.js';
import { toAnswers, type Answer } from '../transforms/labels.js';
import type { BatchRow } from './readers.js';

export interface RowResult {
  row: BatchRow;
  answer?: Answer;
  error?: string;
}

/** CSV fields are text: numbers are read where the model wants numbers. */
function typed(manifest: Manifest, values: Record<string, unknown>, fromCsv: boolean): unknown {
  const instance = instanceOf(manifest, values);
  if (!fromCsv) return instance;
  const toNumber = (v: unknown) => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
  if (Array.isArray(instance)) return instance.map(toNumber);
  if (manifest.transforms.input?.kind === 'tabular' && instance && typeof instance === 'object') {
    return Object.fromEntries(Object.entries(instance).map(([k, v]) => [k, toNumber(v)]));
  }
  return instance;
}

/** The row's problem without the request-path prefix (the error file gives the line instead). */
function reason(error: unknown): string {
  return error instanceof BadRequestError ? error.message.replace(/^instances(\[0\])?:?\s*/, '') : 'could not be scored';
}

async function run(loaded: LoadedModel, instances: unknown[], maxBatch: number): Promise<Answer[]> {
  const outputs = await predict(loaded, decodeTfServing(loaded.manifest, { instances }), maxBatch);
  return toAnswers(loaded.manifest, outputs[0]);
}

export async function scoreRows(loaded: LoadedModel, rows: BatchRow[], fromCsv: boolean, maxBatch: number): Promise<RowResult[]> {
  const instances = rows.map((row) => typed(loaded.manifest, row.values, fromCsv));
  try {
    const answers = await run(loaded, instances, maxBatch);
    return rows.map((row, i) => ({ row, answer: answers[i] }));
  } catch (error) {
    if (!(error instanceof BadRequestError)) throw error;
  }
  // Find the rows the model refuses, one by one (decoding only: no model call per row).
  const results: RowResult[] = rows.map((row) => ({ row }));
  const good: number[] = [];
  instances.forEach((instance, i) => {
    try {
      const plan = decodeTfServing(loaded.manifest, { instances: [instance] });
      if (plan.kind === 'natural') encodeNatural(loaded.manifest, plan.instances);
      good.push(i);
    } catch (error) {
      results[i].error = reason(error);
    }
  });
  if (good.length > 0) {
    try {
      const answers = await run(loaded, good.map((i) => instances[i]), maxBatch);
      good.forEach((i, j) => (results[i].answer = answers[j]));
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error;
      // Rows that decode alone but not together (e.g. mixed raw/natural): score them one by one.
      for (const i of good) {
        try {
          results[i].answer = (await run(loaded, [instances[i]], maxBatch))[0];
        } catch (inner) {
          results[i].error = reason(inner);
        }
      }
    }
  }
  return results;
}
