/**
 * Fine-tune's shuffle: every epoch a permutation of the training rows, a different one each epoch,
 * for any seed the API takes. A seed past about 9e11 (a timestamp) repeated orders: seed x 9973
 * passed 2^53, where adding the epoch rounded away.
 */
import { describe, expect, it } from 'vitest';
import { epochOrder } from '../../lib/ops/fineTune/data.js';

describe('epochOrder', () => {
  it.each([0, 42, 2 ** 32 - 1, 1796092087715, 2 ** 40, Number.MAX_SAFE_INTEGER])(
    'seed %d: 8 epochs, 8 different permutations of the rows, the same again for the same seed',
    (seed) => {
      const orders = Array.from({ length: 8 }, (_, epoch) => epochOrder(20, seed, epoch));
      for (const order of orders) expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(new Set(orders.map((o) => o.join(','))).size).toBe(8);
      expect(epochOrder(20, seed, 3)).toEqual(orders[3]);
    },
  );
});
