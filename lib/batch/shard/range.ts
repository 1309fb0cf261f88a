/**
 * One range of a sharded run, scored by the same streaming scorer as a whole file (run.ts's
 * scorePart: ranged GET, micro-batches within the memory budget, predictions and errors streamed
 * to part objects) into part number `range.index`, then its result written beside them. Scoring a
 * range again (a retry, a redriven execution, a killed local worker) rewrites the same parts.
 *
 * A range is not scored again only when its recorded result is of exactly this range: the same
 * source version, the same bytes and the same model version. Part numbers alone say nothing: a
 * local run into the same folder after an interrupted one may cut the file elsewhere (another
 * --range-bytes, another number of workers: plan.ts shrinks the last ranges), and its part 2 is
 * then other bytes than the earlier run's part 2 (reusing it lost or repeated rows).
 */
import type { ModelLoader } from '../../loader/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import { withRecovery } from '../../runtime/recovery.js';
import type { BatchInput, ShardOutputs } from '../paths.js';
import { readOptional, scorePart, type BatchIO } from '../run.js';
import type { Checkpoint } from '../state.js';
import type { ShardPlan, ShardRange } from './plan.js';

export interface RangeResult {
  /** What was scored: the source version, its bytes [start, end) and the line before them, and the model version. */
  etag: string;
  index: number;
  start: number;
  end: number;
  line: number;
  model: ShardPlan['model'];
  rows: Checkpoint['rows'];
}

/** True when `result` records the scoring of exactly `range` of `plan` (not of another plan's range of that number). */
function isResultOf(result: RangeResult | undefined, plan: Pick<ShardPlan, 'etag' | 'model'>, range: ShardRange): result is RangeResult {
  return (
    result !== undefined &&
    result.etag === plan.etag &&
    result.index === range.index &&
    result.start === range.start &&
    result.end === range.end &&
    result.line === range.line &&
    result.model?.name === plan.model.name &&
    result.model?.version === plan.model.version
  );
}

/** The recorded result of `range` of `plan`, or undefined when the range has not been scored for this plan. */
export async function resultOf(io: BatchIO, outputs: ShardOutputs, plan: Pick<ShardPlan, 'etag' | 'model'>, range: ShardRange): Promise<RangeResult | undefined> {
  const result = await readOptional<RangeResult>(io.output, outputs.rangeResult(range.index));
  return isResultOf(result, plan, range) ? result : undefined;
}

export async function scoreRange(
  io: BatchIO,
  loader: ModelLoader,
  input: BatchInput,
  outputs: ShardOutputs,
  plan: ShardPlan,
  range: ShardRange,
  limits: RunLimits,
): Promise<RangeResult> {
  const done = await resultOf(io, outputs, plan, range);
  if (done) return done;
  // Another range's result under this number goes before its parts are rewritten: were this
  // scoring cut short between the parts and the result, the old result must not vouch for new parts.
  await io.output.delete(outputs.rangeResult(range.index));
  // A backend fault resets TF.js, so the range's retry (and the function's or worker's next range) runs on a working one.
  return withRecovery(() =>
    loader.withModel(plan.model, async (loaded) => {
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
      const result: RangeResult = { etag: plan.etag, index: range.index, start: range.start, end: range.end, line: range.line, model: plan.model, rows: checkpoint.rows };
      await io.output.put(outputs.rangeResult(range.index), JSON.stringify(result), { contentType: 'application/json' });
      return result;
    }),
  );
}
