/** A size over a limit is written with the decimals that show it over: "6.0 MB, over the 6.0 MB" told the client nothing. */
import { expect, it } from 'vitest';
import { megabytesOver } from '../../lib/bytes.js';

const MB = 2 ** 20;

it.each([
  [8.3 * MB, 6 * MB, ['8.3 MB', '6.0 MB']],
  [6.02 * MB, 6 * MB, ['6.02 MB', '6.00 MB']],
  [6 * MB + 3000, 6 * MB, ['6.003 MB', '6.000 MB']],
  [6 * MB + 10, 6 * MB, [`${6 * MB + 10} bytes`, `${6 * MB} bytes`]],
])('%d bytes over %d: %j', (bytes, limit, expected) => {
  expect(megabytesOver(bytes, limit)).toEqual(expected);
});

it('each pair it writes differs, for any size just over the limit', () => {
  for (let extra = 1; extra < 200_000; extra += 997) {
    const [size, limit] = megabytesOver(6 * MB + extra, 6 * MB);
    expect(size).not.toBe(limit);
  }
});
