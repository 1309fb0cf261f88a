/**
 * A model whose natural rows leave sizes open (an image model of any size, as an upscaler: its
 * kind's rowShape has -1s) is taken at each request's size: its first instance's, or its raw
 * rows'. Sized so before anything is planned, every step after (the memory budget, the forward
 * pass's plan, an explanation's heatmap, a preview) sees one row shape, as for a model of fixed
 * size; the kind refuses a later instance of another size as it encodes it, since a request's rows
 * make one tensor.
 */
import type { KindSettings } from './kind.js';
import { kindOf } from './kinds.js';

interface WithInputKind {
  transforms: { input?: KindSettings };
}

/** Whether the model's natural rows leave a size for each request to set. */
export function sizeIsOpen(model: WithInputKind): boolean {
  const settings = model.transforms.input;
  return (
    settings !== undefined &&
    kindOf(settings)
      .rowShape(settings)
      .some((d) => d < 0)
  );
}

/** The model with its input settings sized to make rows of `row`'s shape; as it is when they fix the size. */
export function sizedToRow<M extends WithInputKind>(model: M, row: number[]): M {
  const settings = model.transforms.input;
  const kind = settings && kindOf(settings);
  // A row of another rank or with a side of 0 sizes nothing: the usual checks refuse it, in their words.
  if (!settings || !kind?.sizedBy || !sizeIsOpen(model) || row.length !== kind.rowShape(settings).length || row.some((d) => !(d > 0))) return model;
  return { ...model, transforms: { ...model.transforms, input: kind.sizedBy(settings, row) } };
}

/** The model sized to the row its natural instance `instance` makes (`where` names it in a 400). */
export async function sizedToInstance<M extends WithInputKind>(model: M, instance: unknown, where: string): Promise<M> {
  const settings = model.transforms.input;
  const kind = settings && kindOf(settings);
  if (!settings || !kind?.rowShapeOf || !sizeIsOpen(model)) return model;
  return sizedToRow(model, await kind.rowShapeOf(settings, instance, where));
}
