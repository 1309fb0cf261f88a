/**
 * A batch chunk is planned from one measure of the function's memory and refused when the measure
 * taken once its rows are encoded is lower (what the process holds moved in between). Such a chunk
 * is tried again smaller (lib/batch/score.ts): the file is scored, not failed. The measure cannot
 * be made to move on demand in a real process, so the budget here is a fixed one (as
 * MEMORY_BUDGET_BYTES makes) whose first answer, the first chunk's plan, is a hundred times what it
 * gives afterwards.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { scoreRows } from '../../lib/batch/score.js';
import { instancesPerChunk } from '../../lib/inputs/encode.js';
import type { BatchRow } from '../../lib/inputs/jsonLines.js';
import type { LoadedModel } from '../../lib/loader/index.js';
import { chunkPassNeed } from '../../lib/ops/runModel.js';
import { MemoryBudget } from '../../lib/runtime/memory.js';
import { servicesFor } from '../../lib/services.js';

const FUNCTION_BYTES = 2048 * 2 ** 20;

/** A fixed budget whose first measure (the first chunk's plan) is `firstTimes` what every later one is. */
class FallingBudget extends MemoryBudget {
  private measures = 0;
  constructor(
    bytes: number,
    private readonly firstTimes: number,
  ) {
    super({ functionBytes: FUNCTION_BYTES, overrideBytes: bytes });
  }
  override available(): number {
    this.measures += 1;
    return this.measures === 1 ? this.firstTimes * super.available() : super.available();
  }
}

/** A budget of `bytes` that does not move, as MEMORY_BUDGET_BYTES makes. */
const fixed = (bytes: number) => new MemoryBudget({ functionBytes: FUNCTION_BYTES, overrideBytes: bytes });

/** The demo iris rows as a CSV's records. */
function irisRows(count: number): BatchRow[] {
  const [header, ...lines] = readFileSync('models/_datasets/iris-test.csv', 'utf8').trim().split('\n');
  const names = header.split(',');
  return Array.from({ length: count }, (_, i) => ({
    line: i + 2,
    end: 0,
    values: Object.fromEntries(lines[i % lines.length].split(',').map((v, k) => [names[k], v])),
  }));
}

/** The bytes at which a chunk holds `rows` iris rows with their pass (the plan's own arithmetic). */
function bytesForRows(loaded: LoadedModel, rows: number): number {
  let bytes = 1024;
  while (instancesPerChunk(loaded.manifest, fixed(bytes), 100_000, chunkPassNeed(loaded, fixed(bytes))) < rows) bytes *= 1.25;
  return Math.ceil(bytes);
}

/** Runs `fn` with the demo iris model loaded from models/. */
async function withIris(fn: (loaded: LoadedModel) => Promise<void>): Promise<void> {
  const { loader } = servicesFor({ MODEL_STORE_URI: 'file://models', POWERTOOLS_LOG_LEVEL: 'SILENT' });
  await loader.withModel({ name: 'iris', version: await loader.resolve({ name: 'iris' }) }, fn);
}

describe('a batch chunk refused once its rows are encoded', () => {
  it('is scored in smaller chunks: every row answered as with a budget that does not move, and no tensor left', async () => {
    await withIris(async (loaded) => {
      const rows = irisRows(2000);
      const bytes = bytesForRows(loaded, 20);
      const steady = await scoreRows(loaded, rows, true, { maxBatch: 100_000, budget: fixed(bytes) });
      expect(steady.every((r) => r.answer !== undefined && r.error === undefined)).toBe(true);
      const tensors = tf.memory().numTensors;
      // The first chunk is planned at 100 times the room the encoded rows then find: about 2,000 rows where 20 fit.
      const falling = await scoreRows(loaded, rows, true, { maxBatch: 100_000, budget: new FallingBudget(bytes, 100) });
      expect(falling.map((r) => [r.row.line, r.answer, r.error])).toEqual(steady.map((r) => [r.row.line, r.answer, r.error]));
      expect(tf.memory().numTensors).toBe(tensors);
    });
  });

  it('still fails the run when not even one row fits, with the figures', async () => {
    await withIris(async (loaded) => {
      const tensors = tf.memory().numTensors;
      await expect(scoreRows(loaded, irisRows(50), true, { maxBatch: 100_000, budget: new FallingBudget(1, 1_000_000) })).rejects.toThrow(/this function can give/);
      expect(tf.memory().numTensors).toBe(tensors);
    });
  });
});
