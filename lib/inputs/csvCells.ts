/** CSV cells are text; a cell that reads as a finite number becomes that number, anything else stays as sent. */
export function csvNumber(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const number = Number(value);
  // Number('') and Number('  ') are 0: only then is the trim needed (most cells are not blank).
  return Number.isFinite(number) && (number !== 0 || value.trim() !== '') ? number : value;
}
