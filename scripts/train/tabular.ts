/** The tabular input kind's settings (lib/inputs/tabular.ts) fitted on training rows and applied here, as serving applies it. */
import { tabularKind, type TabularSettings as TabularTransform } from '../../lib/inputs/tabular.js';

/** Mean and population standard deviation of each column of the training rows (std 1 for a constant column). */
export function fitTabular(names: string[], rows: number[][]): TabularTransform {
  const features = names.map((name, column) => {
    const values = rows.map((row) => row[column]);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
    return { name, mean, std: variance > 0 ? Math.sqrt(variance) : 1 };
  });
  return { kind: 'tabular', features };
}

/** (value - mean) / std per column: the model-input space. */
export function applyTabular(transform: TabularTransform, rows: number[][]): number[][] {
  return rows.map((row) => transform.features.map((f, column) => (row[column] - f.mean) / f.std));
}

/**
 * Rows as the predict API encodes them (lib/inputs/tabular.ts, from named feature records):
 * the model input of the held-out rows, so their metrics are those of the served pipeline.
 */
export function servedTabular(transform: TabularTransform, rows: number[][]): Float32Array {
  const records = rows.map((row) => Object.fromEntries(transform.features.map((f, column) => [f.name, row[column]])));
  return tabularKind.encode(transform, records, 'held-out rows');
}
