/**
 * The batch worker's memory budget (cli/rssBudget.ts): a full collection only when RSS passes 110%
 * of what the first range left, then of what the last collection left; never after every range
 * once RSS stays above the first baseline (the wasm heap never shrinks).
 */
import { describe, expect, it } from 'vitest';
import { rssBudget } from '../../cli/rssBudget.js';

describe('rssBudget', () => {
  it('collects past 110% of what the last collection left, not at every range once memory stays up', () => {
    const afterRange = rssBudget();
    const collections: number[] = [];
    // RSS after each range; a collection brings it down to 112 (more than the first 100: the wasm heap grew).
    const ranges = [100, 105, 109, 115, 115, 118, 123, 124, 120, 100];
    ranges.forEach((rss, i) =>
      afterRange(rss, () => {
        collections.push(i);
        return 112;
      }),
    );
    // 115 > 110 (first baseline): collect, keeping 112; then only above 123.2: 124.
    expect(collections).toEqual([3, 7]);
  });

  it('never collects while memory stays within the budget', () => {
    const afterRange = rssBudget(1.1);
    let collected = 0;
    for (const rss of [200, 210, 219, 205, 220]) afterRange(rss, () => ++collected);
    expect(collected).toBe(0);
  });
});
