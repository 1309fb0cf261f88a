/**
 * The registered input kinds, by the name a manifest's `transforms.input.kind` gives. A new kind is
 * one file implementing InputKind (kind.ts) and one line in BUILT_IN below.
 */
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import { imageKind } from './image.js';
import type { InputKind, KindSettings } from './kind.js';
import { tabularKind } from './tabular.js';
import { textKind } from './text.js';

const BUILT_IN: InputKind[] = [tabularKind, textKind, imageKind];

const registry = new Map<string, InputKind>(BUILT_IN.map((kind) => [kind.kind, kind]));

/** Adds a kind (or replaces one of the same name): what BUILT_IN does for the kinds shipped here. */
export function registerInputKind<T extends KindSettings>(kind: InputKind<T>): void {
  registry.set(kind.kind, kind as unknown as InputKind);
}

/** The module that reads these settings. */
export function kindOf(settings: KindSettings): InputKind {
  const kind = registry.get(settings.kind);
  if (!kind) throw new BadRequestError(`unknown input kind ${JSON.stringify(settings.kind)}: expected one of ${[...registry.keys()].join(', ')}`);
  return kind;
}

/**
 * `transforms.input` in a manifest: `kind` picks the registered kind, whose own schema checks and
 * completes the rest. Resolved when parsed, so a kind registered later is known.
 */
export const inputSettingsSchema = z.looseObject({ kind: z.string() }).transform((value, context): KindSettings => {
  const kind = registry.get(value.kind);
  if (!kind) {
    context.addIssue({ code: 'custom', path: ['kind'], message: `unknown input kind ${JSON.stringify(value.kind)}: expected one of ${[...registry.keys()].join(', ')}` });
    return z.NEVER;
  }
  const parsed = kind.schema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) context.addIssue({ ...issue, code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  }
  return parsed.data;
});
