/** Rows of named features -> the standardised feature matrix the model was trained on. */
import { BadRequestError } from '../errors.js';
import type { TabularTransform } from './schema.js';

export function isTabularRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !('b64' in value);
}

/** Validates every row first (all problems of a row in one message), then standardises. */
export function encodeTabular(transform: TabularTransform, records: unknown[], where = 'instances'): Float32Array {
  const names = transform.features.map((f) => f.name);
  const out = new Float32Array(records.length * names.length);
  records.forEach((record, r) => {
    if (!isTabularRecord(record)) throw new BadRequestError(`${where}[${r}]: expected an object with the features ${names.join(', ')}`);
    const problems: string[] = [];
    const missing = names.filter((n) => !(n in record));
    if (missing.length) problems.push(`missing ${missing.join(', ')}`);
    const unknown = Object.keys(record).filter((k) => !names.includes(k));
    if (unknown.length) problems.push(`unknown feature(s) ${unknown.join(', ')}`);
    transform.features.forEach((feature, c) => {
      const value = record[feature.name];
      if (!(feature.name in record)) return;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        problems.push(`${feature.name} must be a finite number, got ${JSON.stringify(value)}`);
        return;
      }
      out[r * names.length + c] = (value - feature.mean) / feature.std;
    });
    if (problems.length) throw new BadRequestError(`${where}[${r}]: ${problems.join('; ')} (expected features: ${names.join(', ')})`);
  });
  return out;
}
