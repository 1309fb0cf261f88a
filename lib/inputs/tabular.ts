/**
 * Tabular instances: records of named features, e.g. {"sepal_length": 5.1, ...}. Each feature is
 * one column of the model input, in the manifest's order.
 *
 * `mean` and `std` are the training data's. With `standardize: true` the service applies
 * (value - mean) / std before the model, for a model trained on standardised columns that does not
 * standardise itself; then a raw tensor row must be standardised by the client (metadata says so).
 * With `standardize: false` the model takes the values as they are (the demo models fold the
 * standardisation into their first layer) and mean and std only inform explanations and metadata.
 * Manifests written before the flag existed standardised: the default is true.
 */
import { z } from 'zod';
import { BadRequestError, quoted } from '../errors.js';
import { mapValues } from '../tensors/mapValues.js';
import { FLOAT32_MAX, fitsFloat32 } from '../tensors/valueRanges.js';
import { csvNumber } from './csvCells.js';
import type { AttributionView, InputKind } from './kind.js';

const settingsSchema = z.object({
  kind: z.literal('tabular'),
  features: z
    .array(
      z.object({
        name: z.string().min(1),
        mean: z.number().default(0),
        std: z.number().positive().default(1),
      }),
    )
    .min(1),
  standardize: z.boolean().default(true),
});

export type TabularSettings = z.infer<typeof settingsSchema>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !('b64' in value);
}

type Feature = TabularSettings['features'][number];

/** The feature's value as the model takes it. */
function modelValue(settings: TabularSettings, feature: Feature, value: number): number {
  return settings.standardize ? (value - feature.mean) / feature.std : value;
}

/**
 * What is wrong with a feature's value, in the words the error file and the 400 use; undefined
 * when nothing is. The model computes in float32: a number beyond it (1e39) would reach the model
 * as Infinity and give an answer computed from a value nobody sent.
 */
function featureProblem(feature: Feature, standardize: boolean, value: unknown, sent: unknown = value): string | undefined {
  // A record read from a file (JSON Lines, fromRecord) carries every feature, absent ones undefined.
  if (value === undefined) return `missing ${feature.name}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${feature.name} must be a finite number, got ${quoted(sent)}`;
  if (!fitsFloat32(value) || (standardize && !fitsFloat32((value - feature.mean) / feature.std))) {
    return `${feature.name} is ${value}, beyond float32 (the model computes in float32: at most ±${FLOAT32_MAX.toPrecision(3)})`;
  }
  return undefined;
}

/** Validates every row first (all problems of a row in one message), then standardises. */
async function encode(settings: TabularSettings, records: unknown[], placeOf: (index: number) => string): Promise<Float32Array> {
  const names = settings.features.map((f) => f.name);
  const out = new Float32Array(records.length * names.length);
  records.forEach((record, r) => {
    if (!isRecord(record)) throw new BadRequestError(`${placeOf(r)}: expected an object with the features ${names.join(', ')}`);
    const problems: string[] = [];
    const missing = names.filter((n) => !(n in record));
    if (missing.length) problems.push(`missing ${missing.join(', ')}`);
    const unknown = Object.keys(record).filter((k) => !names.includes(k));
    if (unknown.length) problems.push(`unknown feature(s) ${unknown.join(', ')}`);
    settings.features.forEach((feature, c) => {
      const value = record[feature.name];
      if (!(feature.name in record)) return;
      const problem = featureProblem(feature, settings.standardize, value);
      if (problem) {
        problems.push(problem);
        return;
      }
      out[r * names.length + c] = modelValue(settings, feature, value as number);
    });
    if (problems.length) throw new BadRequestError(`${placeOf(r)}: ${problems.join('; ')} (expected features: ${names.join(', ')})`);
  });
  return out;
}

/**
 * One attribution per feature, sorted by magnitude. Integrated gradients and KernelSHAP do not
 * depend on the standardisation: IG of z = (x - mean) / std is (z - z0) * mean dF/dz, which equals
 * (x - x0) * mean dF/dx, and KernelSHAP only evaluates the model. Gradients do: saliency and
 * SmoothGrad are reported per unit of the feature as sent (dF/dx = dF/dz / std).
 */
function mapAttributions(settings: TabularSettings, view: AttributionView): Record<string, unknown> | undefined {
  if (settings.features.length !== view.row.length) return undefined;
  const record = view.natural ? (view.instance as Record<string, number>) : undefined;
  const features = settings.features.map((f, j) => ({
    name: f.name,
    value: record ? record[f.name] : view.row[j],
    attribution: settings.standardize && view.natural && view.gradient ? view.values[j] / f.std : view.values[j],
  }));
  features.sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution));
  return { features };
}

/** Cells -> one row of features, as encode() reads a record whose cells were cast to numbers. */
function csvRowEncoder(settings: TabularSettings, header: string[]): ((cells: string[], out: Float32Array, offset: number) => string | undefined) | undefined {
  const columns = settings.features.map((f) => header.indexOf(f.name));
  if (columns.some((c) => c < 0)) return undefined;
  return (cells, out, offset) => {
    for (let c = 0; c < columns.length; c += 1) {
      const cell = cells[columns[c]];
      const feature = settings.features[c];
      const value = csvNumber(cell);
      const problem = featureProblem(feature, settings.standardize, value, cell);
      if (problem) return problem;
      out[offset + c] = modelValue(settings, feature, value as number);
    }
    return undefined;
  };
}

export const tabularKind: InputKind<TabularSettings> = {
  kind: 'tabular',
  schema: settingsSchema,
  contentTypes: ['pd'],
  // The example is this model's own: its first features at their training means.
  instanceHelp: (settings) => {
    const shown = settings.features.slice(0, 3).map((f) => `${JSON.stringify(f.name)}: ${Number(f.mean.toPrecision(3))}`);
    return `an object with one number per feature, e.g. {${shown.join(', ')}${settings.features.length > 3 ? ', ...' : ''}}`;
  },
  rowShape: (settings) => [settings.features.length],
  isInstance: (_settings, value) => isRecord(value),
  encode,
  fromRecord: (settings, record) => Object.fromEntries(settings.features.map((f) => [f.name, record[f.name]])),
  requiredColumns: (settings) => settings.features.map((f) => f.name),
  csvRowEncoder,
  fromCsvCells: (_settings, instance) => (isRecord(instance) ? Object.fromEntries(Object.entries(instance).map(([k, v]) => [k, csvNumber(v)])) : instance),
  describe: (settings) => ({ kind: 'tabular', features: settings.features.map((f) => f.name), standardized: settings.standardize }),
  rawTensorNote: (settings) => {
    const names = settings.features.map((f) => f.name).join(', ');
    if (!settings.standardize) return `a raw tensor row is the feature values as they are, in this order: ${names}`;
    const stats = settings.features.map((f) => `${f.name} (${f.mean}, ${f.std})`).join(', ');
    return `a raw tensor row must be standardised as (value - mean) / std, in this order (mean, std): ${stats}; feature records are standardised by the service`;
  },
  defaultBaseline: 'mean',
  zeroRow: (settings) => mapValues(Float32Array, settings.features, (f) => (settings.standardize ? (0 - f.mean) / f.std : 0)),
  // The training means: standardised, exactly 0.
  meanRow: (settings) => mapValues(Float32Array, settings.features, (f) => (settings.standardize ? 0 : f.mean)),
  imageShape: () => undefined,
  featureGroups: (settings, row) =>
    settings.features.length === row.length
      ? { names: settings.features.map((f) => f.name), indices: settings.features.map((_, j) => Int32Array.of(j)), kind: 'columns' }
      : undefined,
  mapAttributions,
};
