/**
 * A sharded run that failed ends as a run through one function does: with a failed manifest
 * naming the problem (run.ts's recordFailure) and the counts of the ranges scored before it.
 * `keepRanges` leaves the plan and the parts (Step Functions: other ranges may still be writing
 * theirs); without it (`modelctl batch`, whose workers have stopped, and which owns its --out)
 * nothing is left in the parts folders, this version's or another's.
 */
import type { BatchInput, ShardOutputs } from '../paths.js';
import { readOptional, recordFailure, removeParts, type BatchIO } from '../run.js';
import type { BatchManifest } from '../state.js';
import type { ShardPlan } from './plan.js';
import { resultOf } from './range.js';

export async function failShardedRun(
  io: BatchIO,
  input: BatchInput,
  outputs: ShardOutputs,
  error: unknown,
  run: { startedAt: string; etag: string; plan?: ShardPlan; keepRanges: boolean },
): Promise<BatchManifest> {
  // A run that already finished (a failure after its manifest was written, or a failed rerun of the
  // same file into the same place) keeps its outputs; this run's parts go all the same.
  const finished = await readOptional<BatchManifest>(io.output, outputs.manifest);
  if (finished?.status === 'succeeded' && finished.source.etag === run.etag) {
    if (!run.keepRanges) await removeParts(io.output, outputs);
    return finished;
  }
  const rows = { read: 0, scored: 0, failed: 0 };
  let scored = 0;
  for (const range of run.plan?.ranges ?? []) {
    const result = run.plan ? await resultOf(io, outputs, run.plan, range) : undefined;
    if (!result) continue;
    scored += 1;
    rows.read += result.rows.read;
    rows.scored += result.rows.scored;
    rows.failed += result.rows.failed;
  }
  const manifest = await recordFailure(io.output, input, outputs, error, {
    startedAt: run.startedAt,
    etag: run.etag,
    model: run.plan?.model,
    rows,
    invocations: Math.max(1, scored),
  });
  if (!run.keepRanges) await removeParts(io.output, outputs);
  return manifest;
}
