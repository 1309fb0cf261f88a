/**
 * An input kind written for the tests, to show what adding one takes: this file, and one
 * `registerInputKind(sequenceKind)` (for a kind shipped with the service: one line in
 * lib/inputs/kinds.ts). Instances are fixed-length numeric sequences, {"sequence": [1, 2, 3, 4]},
 * each value multiplied by `scale`; attributions come back per position.
 */
import { z } from 'zod';
import { BadRequestError } from '../../lib/errors.js';
import type { InputKind } from '../../lib/inputs/kind.js';

const settingsSchema = z.object({
  kind: z.literal('sequence'),
  length: z.number().int().positive(),
  scale: z.number().default(1),
});
type SequenceSettings = z.infer<typeof settingsSchema>;

const isSequence = (value: unknown): value is { sequence: unknown[] } => typeof value === 'object' && value !== null && Array.isArray((value as { sequence?: unknown }).sequence);

export const sequenceKind: InputKind<SequenceSettings> = {
  kind: 'sequence',
  schema: settingsSchema,
  contentTypes: ['sequence'],
  instanceHelp: () => '{"sequence": [numbers]} of the model\'s length',
  rowShape: (settings) => [settings.length],
  isInstance: (_settings, value) => isSequence(value),
  encode: async (settings, values, placeOf) => {
    const out = new Float32Array(values.length * settings.length);
    values.forEach((value, r) => {
      const sequence = isSequence(value) ? value.sequence : typeof value === 'string' ? JSON.parse(value).sequence : undefined;
      if (!Array.isArray(sequence) || sequence.length !== settings.length || sequence.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
        throw new BadRequestError(`${placeOf(r)}: expected {"sequence": [${settings.length} numbers]}`);
      }
      sequence.forEach((v: number, i: number) => {
        out[r * settings.length + i] = v * settings.scale;
      });
    });
    return out;
  },
  fromRecord: (_settings, record) => (typeof record.sequence === 'string' ? { sequence: JSON.parse(record.sequence) } : { sequence: record.sequence }),
  requiredColumns: () => ['sequence'],
  fromCsvCells: (_settings, instance) => instance,
  describe: (settings) => ({ kind: 'sequence', length: settings.length }),
  rawTensorNote: (settings) => `a raw row is the ${settings.length} values, each times ${settings.scale}`,
  defaultBaseline: 'zeros',
  zeroRow: (_settings, size) => new Float32Array(size),
  meanRow: () => undefined,
  imageShape: () => undefined,
  featureGroups: (settings) => ({
    names: Array.from({ length: settings.length }, (_, i) => `t${i}`),
    indices: Array.from({ length: settings.length }, (_, i) => Int32Array.of(i)),
    kind: 'values',
  }),
  mapAttributions: (settings, view) => ({
    positions: Array.from({ length: settings.length }, (_, i) => ({ index: i, value: view.row[i] / settings.scale, attribution: view.values[i] })),
  }),
};
