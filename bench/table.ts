/** Plain-text tables for the console. */

export type Cell = string | number | boolean | null | undefined;

function text(cell: Cell): string {
  if (cell === null || cell === undefined) return '-';
  if (typeof cell === 'number') return Number.isInteger(cell) ? cell.toLocaleString('en-US') : String(cell);
  return String(cell);
}

/** Left-aligned first column, right-aligned numbers. */
export function formatTable(header: string[], rows: Cell[][]): string {
  const cells = [header, ...rows.map((r) => r.map(text))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 || typeof rows[0]?.[i] !== 'number' ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
