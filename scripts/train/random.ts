/**
 * Seeded randomness for the training scripts: the same seed gives the same shuffles, splits and
 * samples on every machine, so re-running `npm run models:train` regenerates the same weights.
 */

/** mulberry32: a tiny 32-bit generator, uniform in [0, 1). Plenty for shuffling data sets. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates on a copy. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

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
