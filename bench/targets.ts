/** The performance targets the bench checks, and how each is read from the measurements. */

export interface Target {
  name: string;
  /** e.g. "<= 1500000 bytes" */
  target: string;
  value: number | null;
  met: boolean | null;
  note?: string;
}

export function atMost(name: string, limit: number, unit: string, value: number | undefined, note?: string): Target {
  if (value === undefined || !Number.isFinite(value)) return { name, target: `<= ${limit} ${unit}`, value: null, met: null, note: note ?? 'not measured' };
  return { name, target: `<= ${limit} ${unit}`, value, met: value <= limit, ...(note ? { note } : {}) };
}
