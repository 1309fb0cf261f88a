/** Plain-text tables for the terminal; --json prints the raw records instead. */
export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '(none)';
  const columns = Object.keys(rows[0]);
  const width = (c: string) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(width(columns[i])))
      .join('  ')
      .trimEnd();
  return [line(columns), line(columns.map((c) => '-'.repeat(width(c)))), ...rows.map((r) => line(columns.map((c) => String(r[c] ?? ''))))].join('\n');
}

export function formatMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');
}
