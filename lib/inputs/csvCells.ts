/** CSV cells are text; a cell that reads as a finite number becomes that number, anything else stays as sent. */
export function csvNumber(value: unknown): unknown {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
}
