/**
 * A model whose input leaves sizes open (an image model of any size, as an upscaler) costs per row
 * about what the row's values make it, but a cost says so only near the size it was measured at
 * (memory.ts's scaledCostPerRow scales within SCALE_LIMIT times the values). So before a row of a
 * size nothing measured is near runs, rows of 1/SCALE_LIMIT its values are measured first, and
 * before them rows smaller again, down to a row small enough to run unplanned: a ladder of passes,
 * each checked against the budget before it runs by the step below it. A 2000 x 1500 photo is
 * then planned from a 512 x 376 row, itself from 128 x 96, itself from 64 x 32, run as it is
 * (steps keep the sides' alignment: below); before, the photo
 * ran unplanned (a wasm trap ends the function), or was planned from a thumbnail whose fixed part
 * made it refuse what fits.
 */
import type { TensorSpec } from '../tensors/data.js';
import { type ChunkPlan, costPerRow, type MemoryBudget, type Pass, SCALE_LIMIT, scaledCostPerRow } from './memory.js';

/** Rows of at most so many values run unplanned, measured as they run: 64 x 64 x 3 values. */
const SMALL_VALUES = 64 * 64 * 3;

export interface Ladder {
  model: object;
  pass: Pass;
  budget: MemoryBudget;
  /** Which of the row's dimensions the model leaves open (the ones a step shrinks). */
  open: readonly boolean[];
  /** Measures the pass on a row of zeros of this shape (memory.ts's measureRow). */
  measure(rowShape: number[]): Promise<void>;
}

const valuesIn = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The largest power of two, up to 64, that divides a side: a model that halves its image several
 * times takes sides of such multiples (MoveNet multipose: of 32), and a row sent so is one; a step
 * or a size a refusal names keeps it (a 2016 x 2016 photo's step of 504 was refused, and the
 * photo ran unplanned).
 */
const alignment = (side: number) => {
  let power = 1;
  while (power < 64 && side % (power * 2) === 0) power *= 2;
  return power;
};

const alignedUp = (side: number, to: number) => Math.ceil(side / to) * to;

/** What a step that did not fit says of the row above it: its cost scaled up from the step's estimate. */
export interface FarEstimate {
  bytes: number;
  basis: string;
}

/**
 * Measures the steps below `rowShape` that its cost can be scaled from, smallest first. Answers
 * undefined when the row can now be planned (measured, scaled, or small enough to run as it is,
 * or a step the model could not take: measured as it runs, as before), or the row's cost scaled
 * from the first step that did not fit the budget: it is refused on it, nothing larger having run.
 */
export async function climbTo(ladder: Ladder, rowShape: readonly number[]): Promise<FarEstimate | undefined> {
  const { model, pass, budget } = ladder;
  if (costPerRow(model, pass, rowShape) !== undefined || scaledCostPerRow(model, pass, rowShape) !== undefined) return undefined;
  const opened = ladder.open.filter(Boolean).length;
  if (valuesIn(rowShape) <= SMALL_VALUES || opened === 0 || ladder.open.length !== rowShape.length) return undefined;
  // Each open side shrunk so that the step holds 1/SCALE_LIMIT of the row's values.
  const shrink = SCALE_LIMIT ** (1 / opened);
  const step = rowShape.map((d, i) => (ladder.open[i] ? alignedUp(Math.max(1, Math.ceil(d / shrink)), alignment(d)) : d));
  const ratio = valuesIn(rowShape) / valuesIn(step);
  if (ratio <= 1) return undefined; // sides too few multiples of their alignment to shrink: runs as it is
  const below = await climbTo(ladder, step);
  if (below) return { bytes: below.bytes * ratio, basis: below.basis };
  if (costPerRow(model, pass, step) !== undefined) return undefined;
  const estimate = scaledCostPerRow(model, pass, step);
  if (estimate && estimate.bytes > budget.availableFor(estimate.bytes)) {
    return { bytes: estimate.bytes * ratio, basis: `${estimate.basis}, through a row of ${step.join(' x ')}` };
  }
  try {
    await ladder.measure(step);
  } catch (error) {
    // A size the model's layers cannot take (a plain Error from TF.js): the row is measured as it runs.
    if (!(error instanceof Error) || error.name !== 'Error') throw error;
  }
  return undefined;
}

/** Which of a row's dimensions a model of one input (`inputs`) leaves open; undefined for several inputs, an unknown rank, or none open. */
export function openDimensions(inputs: readonly TensorSpec[], rowShape: readonly number[]): boolean[] | undefined {
  const [spec, ...others] = inputs;
  if (!spec || others.length > 0 || !spec.shape || spec.shape.length !== rowShape.length + 1) return undefined;
  const open = spec.shape.slice(1).map((d) => d < 0);
  return open.some(Boolean) ? open : undefined;
}

/** For a refusal: the row of `share` of these values, its open sides shrunk alike ("830 x 625 x 3"). */
export function smallerRowOf(open: boolean[] | undefined, rowShape: readonly number[]): ChunkPlan['smallerRow'] {
  if (!open) return undefined;
  const opened = open.filter(Boolean).length;
  return (share) => {
    if (!(share > 0) || share >= 1) return undefined;
    const row = rowShape.map((d, i) => (open[i] ? Math.floor((d * share ** (1 / opened)) / alignment(d)) * alignment(d) : d));
    return row.every((d) => d >= 1) ? row.join(' x ') : undefined;
  };
}
