/** A CSV cell becomes a number only when it is a decimal one, as pandas reads it; hex, binary and octal literals stay text (a row error, not 16). */
import { describe, expect, it } from 'vitest';
import { csvNumber } from '../../lib/inputs/csvCells.js';

describe('csvNumber', () => {
  it.each(['5.1', '-2.5', '1e3', '.5', '0', '-0', ' 7 ', '1E-7', '+3', '0.0', '10', '0123'])('reads the decimal %j as Number() does', (cell) => {
    expect(csvNumber(cell)).toBe(Number(cell));
  });

  it.each(['0x10', '0X1f', '0b11', '0B1', '0o7', '0O17', ' 0x10', '\t0b1 ', '\u00a00x10', '\ufeff0x10', '', '  ', 'x', 'NaN', 'Infinity', '-Infinity', '1,5', 'setosa'])(
    'keeps %j as text',
    (cell) => {
      expect(csvNumber(cell)).toBe(cell);
    },
  );
});
