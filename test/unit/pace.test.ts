/**
 * A time refusal's count of what fits (lib/runtime/timeLimit.ts Pace.check) leaves room for the
 * smaller request's own start: figured on all the time left, kernelShap's 413 named 192 rows and
 * 192 were refused.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { Pace } from '../../lib/runtime/timeLimit.js';

afterEach(() => vi.restoreAllMocks());

it('names the rows that fit in four fifths of the time left at the pace so far, with those done', () => {
  let now = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  let remaining = 10_000;
  const pace = new Pace({ remainingMs: () => remaining }, 1000, 'a pass');
  pace.start(0);
  now = 1000; // 10 rows in 1 s: 100 ms a row
  remaining = 9000; // 7 s once the 2 s kept to answer are set aside: 70 rows, of which four fifths, 56
  expect(() => pace.check(10)).toThrow(/About 6% of this work fits \(66 of its 1000 rows\)/);
  // A rest that fits is not refused.
  const quick = new Pace({ remainingMs: () => remaining }, 50, 'a pass');
  quick.start(0);
  now = 1500;
  expect(() => quick.check(10)).not.toThrow();
});

it('gives a share under 1% to one significant digit, not as 0%', () => {
  let now = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  const pace = new Pace({ remainingMs: () => 2300 }, 1024, 'a pass');
  pace.start(0);
  now = 1000; // 2 rows in 1 s; 0.3 s left once 2 s are kept to answer: four fifths of it, 0.48 rows more
  expect(() => pace.check(2)).toThrow(/About 0\.2% of this work fits \(2 of its 1024 rows\)/);
});

it('counts the rows timed before the pace started, so the figures add up to the whole', () => {
  let now = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  const pace = new Pace({ remainingMs: () => 3000 }, 128, 'integrated gradients');
  pace.start(1); // the first row was profiled alone
  now = 4000; // the next 4 rows in 4 s: the other 123 would take 123 s
  let message = '';
  try {
    pace.check(5);
  } catch (error) {
    message = (error as Error).message;
  }
  const counts = /128 rows, of which the first was timed alone, and the next (\d+) took 4\.0 s \(1000 ms each\); the other (\d+) would take/.exec(message);
  expect(counts, message).not.toBeNull();
  expect(1 + Number(counts?.[1]) + Number(counts?.[2])).toBe(128);
});
