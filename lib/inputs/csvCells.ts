/** CSV cells are text; a cell that reads as a finite decimal number becomes that number, anything else stays as sent. */
export function csvNumber(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const number = Number(value);
  if (!Number.isFinite(number) || isRadixLiteral(value)) return value;
  // Number('') and Number('  ') are 0: only then is the trim needed (most cells are not blank).
  return number !== 0 || value.trim() !== '' ? number : value;
}

/**
 * Number() also reads 0x10, 0b11 and 0o7 as numbers; a CSV cell is decimal (pandas and csv-parse's
 * cast read "0x10" as text), so such a cell is a row error rather than 16. Checked cheaply: only a
 * cell whose second character is x, b or o, or that starts with what Number() trims (ASCII or
 * Unicode white space, a BOM), can be one.
 */
function isRadixLiteral(value: string): boolean {
  const second = value.charCodeAt(1) | 0x20;
  if (second === 0x78 || second === 0x62 || second === 0x6f) return value.charCodeAt(0) === 0x30;
  const first = value.charCodeAt(0);
  return (first <= 0x20 || first > 0x7e) && /^\s*0[xbo]/i.test(value);
}
