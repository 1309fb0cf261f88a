/**
 * The end of a sharded run: the ranges' parts joined in order into the same outputs, and the same
 * manifest, as a run through one function writes (run.ts's finish), the counts summed. Only parts
 * whose recorded result is of exactly the plan's range (range.ts's isResultOf) are joined: a part
 * of another plan under the same number (an earlier run cut elsewhere) would lose or repeat rows,
 * so the join refuses rather than write outputs from it.
 */
import { NotFoundError } from '../../errors.js';
import { listAll, type ObjectStore } from '../../store/index.js';
import type { BatchManifest } from '../state.js';
import type { BatchInput, ShardOutputs } from '../paths.js';
import { finish, type BatchIO } from '../run.js';
import type { ShardPlan } from './plan.js';
import { resultOf } from './range.js';

export async function joinRanges(
  io: BatchIO,
  input: BatchInput,
  outputs: ShardOutputs,
  plan: ShardPlan & { startedAt: string },
  /** Resolves once range i is scored: a local run starts joining while its workers score (local.ts). Unset: every range is. */
  rangeScored?: (index: number) => Promise<void>,
): Promise<BatchManifest> {
  const rows = { read: 0, scored: 0, failed: 0 };
  /** Each range once: scored, its result of exactly this plan's range, its rows counted. */
  const checked = new Map<number, Promise<void>>();
  const ready = (index: number) => {
    let check = checked.get(index);
    if (!check) {
      check = checkRange(index);
      checked.set(index, check);
    }
    return check;
  };
  const checkRange = async (index: number) => {
    const range = plan.ranges[index];
    await rangeScored?.(index);
    const result = await resultOf(io, outputs, plan, range);
    if (!result) throw new NotFoundError(`range ${range.index} (bytes ${range.start}-${range.end}) of ${plan.key} has not been scored by this plan`);
    rows.read += result.rows.read;
    rows.scored += result.rows.scored;
    rows.failed += result.rows.failed;
  };
  // Every range checked before anything is written, where none is still being scored (a join that
  // streams its parts through could not take back those before a range it refuses). A local run's
  // join checks each range as it reaches it: its folder's join writes to a file it removes on failure.
  if (!rangeScored) for (const range of plan.ranges) await ready(range.index);
  const manifest = await finish(
    io.output,
    input,
    outputs,
    outputs,
    {
      sourceEtag: plan.etag,
      model: plan.model,
      offset: plan.size,
      line: 0,
      parts: plan.ranges.length,
      rows,
      startedAt: plan.startedAt,
      invocations: plan.ranges.length,
    },
    ready,
  );
  await removeJoinedParts(io.output, outputs, plan.ranges.length, plan.startedAt);
  await Promise.all([...plan.ranges.map((r) => outputs.rangeResult(r.index)), outputs.plan].map((key) => io.output.delete(key)));
  return manifest;
}

/**
 * The parts joined, and whatever under the parts folders is older than the plan: a run of an earlier
 * upload of the same key leaves its folder (a run that failed), or a run of this version cut into
 * more ranges its later parts. Not the folders whole: a newer upload's run may be writing already.
 */
async function removeJoinedParts(store: ObjectStore, outputs: ShardOutputs, parts: number, startedAt: string): Promise<void> {
  const keys = new Set(Array.from({ length: parts }, (_, i) => [outputs.part(i, 'predictions'), outputs.part(i, 'errors')]).flat());
  const started = Date.parse(startedAt);
  for await (const object of listAll(store, outputs.shardsPrefix)) if (object.lastModified && object.lastModified.getTime() < started) keys.add(object.key);
  await Promise.all([...keys].map((key) => store.delete(key)));
}
