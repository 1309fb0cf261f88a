/**
 * KernelSHAP's largest coalition design (65,536 coalitions of 196 features: a 28 x 28 image in
 * 2 x 2 patches at the highest nSamples) held as one array of masks. One array a coalition held 25
 * MB once drawn and grew the process by about 80 MB while drawing (a 196-character key for each),
 * all of it outside what the explain budget counts (its 64 MB margin covers what is not counted).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { coalitionAt, coalitionDesign } from '../../lib/ops/explain/shapley.js';
import { uniform } from '../../lib/random.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const used = () => {
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};

it('65,536 coalitions of 196 features hold little more than their masks, and are what they were drawn as', () => {
  const m = 196;
  // What the worker allocates meanwhile (vitest's own messages on a loaded machine: once 18.2 MB
  // read for 12.8) only adds to a reading, so the least of three is the design's.
  const drawn = () => {
    const before = used();
    const design = coalitionDesign(m, 65536, uniform(1));
    return { design, held: used() - before };
  };
  const readings = [drawn(), drawn(), drawn()];
  const { design } = readings[0];
  const held = Math.min(...readings.map((r) => r.held));
  expect(design.count).toBe(65536);
  const maskBytes = design.count * m;
  // Masks (12.5 MB) and weights (0.5 MB); one array a coalition held 24.8 MB.
  expect(held).toBeLessThan(maskBytes * 1.2);
  // Distinct, neither empty nor full, each with its complement after it where drawn paired.
  const keys = new Set(Array.from({ length: design.count }, (_, k) => coalitionAt(design, k).join('')));
  expect(keys.size).toBe(design.count);
  for (let k = 0; k < design.count; k++) {
    const ones = coalitionAt(design, k).reduce((a, b) => a + b, 0);
    expect(ones > 0 && ones < m).toBe(true);
  }
});
