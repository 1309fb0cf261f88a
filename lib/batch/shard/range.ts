/**
 * One range of a sharded run, scored by the same streaming scorer as a whole file (run.ts's
 * scorePart: ranged GET, micro-batches within the memory budget, predictions and errors streamed
 * to part objects) into part number `range.index`, then its counts written beside them. Scoring a
 * range again (a retry, a redriven execution, a killed local worker) rewrites the same parts; a
 * range whose counts exist for this source ETag is not scored again.
 */
import type { ModelLoader } from '../../loader/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import type { BatchInput, BatchOutputs } from '../paths.js';
import { readOptional, scorePart, type BatchIO } from '../run.js';
import type { Checkpoint } from '../state.js';
import type { ShardPlan, ShardRange } from './plan.js';

export interface RangeResult {
  etag: string;
  index: number;
  rows: Checkpoint['rows'];
}

export async function scoreRange(
  io: BatchIO,
  loader: ModelLoader,
  input: BatchInput,
  outputs: BatchOutputs,
  plan: ShardPlan,
  range: ShardRange,
  limits: RunLimits,
): Promise<RangeResult> {
  const done = await readOptional<RangeResult>(io.output, outputs.rangeResult(range.index));
  if (done?.etag === plan.etag) return done;
  return loader.withModel(plan.model, async (loaded) => {
    const checkpoint: Checkpoint = {
      sourceEtag: plan.etag,
      model: plan.model,
      offset: range.start,
      end: range.end,
      line: range.line,
      // The first range reads the header itself; the others resume with its columns.
      columns: range.index > 0 ? plan.columns : undefined,
      parts: range.index,
      rows: { read: 0, scored: 0, failed: 0 },
      startedAt: new Date().toISOString(),
      invocations: 1,
    };
    const unbounded = { limits, remainingMs: () => Number.POSITIVE_INFINITY, marginMs: 0, continueLater: async () => undefined };
    await scorePart(io, loaded, input, outputs, checkpoint, unbounded);
    const result: RangeResult = { etag: plan.etag, index: range.index, rows: checkpoint.rows };
    await io.output.put(outputs.rangeResult(range.index), JSON.stringify(result), { contentType: 'application/json' });
    return result;
  });
}
