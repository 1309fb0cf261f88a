/**
 * Seeded randomness for the training scripts: the same seed gives the same shuffles, splits and
 * samples on every machine, so re-running `npm run models:train` regenerates the same weights.
 */

import { shuffled, uniform } from '../../lib/random.js';

export { shuffled, uniform as mulberry32 };

export interface Split<T> {
  train: T[];
  test: T[];
}

/** Shuffles, then holds out the last `testFraction` of the rows for testing. */
export function trainTestSplit<T>(items: readonly T[], testFraction: number, random: () => number): Split<T> {
  const all = shuffled(items, random);
  const testCount = Math.round(all.length * testFraction);
  return { train: all.slice(0, all.length - testCount), test: all.slice(all.length - testCount) };
}
