/**
 * The parts of a server-side join on S3 (lib/store/concatPlan.ts): every part but the last is at
 * least 5 MiB (S3's rule), sources of 5 MiB or more are copied rather than read (at most the bytes
 * needed to top up a run of small ones), and the pieces cover every source once, in order.
 */
import { describe, expect, it } from 'vitest';
import { concatSteps, MIN_PART_BYTES } from '../../lib/store/concatPlan.js';

const MiB = 2 ** 20;

function check(sizes: number[]): void {
  const steps = concatSteps(sizes);
  const covered: { source: number; start: number; end: number }[] = [];
  steps.forEach((step, i) => {
    const pieces = step.kind === 'copy' ? [step] : step.pieces;
    const bytes = pieces.reduce((n, p) => n + p.end - p.start, 0);
    if (i < steps.length - 1) expect(bytes, JSON.stringify({ sizes, i })).toBeGreaterThanOrEqual(MIN_PART_BYTES);
    covered.push(...pieces.map(({ source, start, end }) => ({ source, start, end })));
  });
  // In order, contiguous, complete.
  const expected = sizes.flatMap((size, source) => (size > 0 ? [{ source, size }] : []));
  let at = 0;
  for (const { source, size } of expected) {
    let offset = 0;
    while (offset < size) {
      const piece = covered[at++];
      expect(piece, JSON.stringify(sizes)).toMatchObject({ source, start: offset });
      offset = piece.end;
    }
    expect(offset).toBe(size);
  }
  expect(at).toBe(covered.length);
}

describe('concatSteps', () => {
  it('copies large sources, gathers small ones, tops up a small run from the next large source', () => {
    expect(concatSteps([20 * MiB, 30 * MiB]).map((s) => s.kind)).toEqual(['copy', 'copy']);
    const steps = concatSteps([1 * MiB, 20 * MiB]);
    expect(steps).toEqual([
      {
        kind: 'upload',
        pieces: [
          { source: 0, start: 0, end: MiB },
          { source: 1, start: 0, end: 4 * MiB },
        ],
      },
      { kind: 'copy', source: 1, start: 4 * MiB, end: 20 * MiB },
    ]);
    expect(concatSteps([MiB, MiB, MiB])).toEqual([{ kind: 'upload', pieces: [0, 1, 2].map((source) => ({ source, start: 0, end: MiB })) }]);
    expect(concatSteps([])).toEqual([]);
  });

  it('keeps S3\u2019s rules for any sizes (seeded random cases)', () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (let trial = 0; trial < 500; trial += 1) {
      const sizes = Array.from({ length: 1 + Math.floor(random() * 12) }, () => Math.floor(random() * random() * 14 * MiB));
      check(sizes);
    }
  });
});
