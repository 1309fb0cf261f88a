/**
 * The instance part of a data row (a CSV record or a JSON object), in the model's terms:
 * tabular models take their feature columns by name, text models a `text` field, image models an
 * `image` ({"b64": ...}) or `b64` field, raw models an `instance` field or the remaining columns.
 */
import type { Manifest } from '../registry/index.js';

export function instanceOf(manifest: Manifest, values: Record<string, unknown>, ignore: string[] = []): unknown {
  const transform = manifest.transforms.input;
  if ('instance' in values) return values.instance;
  if (transform?.kind === 'tabular') return Object.fromEntries(transform.features.map((f) => [f.name, values[f.name]]));
  const rest = Object.entries(values).filter(([k]) => !ignore.includes(k));
  if (transform?.kind === 'text') return values.text ?? (rest.length === 1 ? rest[0][1] : undefined);
  if (transform?.kind === 'image') return values.image ?? values.b64 ?? (rest.length === 1 ? rest[0][1] : undefined);
  return rest.map(([, v]) => v);
}

/** Columns a data file must have for this model, or undefined when any layout will do. */
export function requiredColumns(manifest: Manifest): string[] | undefined {
  const transform = manifest.transforms.input;
  if (transform?.kind === 'tabular') return transform.features.map((f) => f.name);
  return undefined;
}
