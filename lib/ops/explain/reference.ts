/**
 * Reference inputs the explanations compare against, as rows of model inputs:
 * the integrated-gradients baseline and the kernelShap background.
 */
import { BadRequestError } from '../../errors.js';
import { type EncodeBudget, inputKindOf } from '../../inputs/encode.js';
import type { Manifest } from '../../registry/index.js';
import { encodeRows, flatRow, type InputSpace } from './inputs.js';
import type { ExplainRequest, KernelShapParams } from './request.js';

/** The manifest's stored sample (flattened rows of model inputs), checked against the input size. */
function storedBackground(manifest: Manifest, space: InputSpace): Float32Array[] | undefined {
  const rows = manifest.background;
  if (!rows || rows.length === 0) return undefined;
  const bad = rows.findIndex((r) => r.length !== space.size);
  if (bad >= 0)
    throw new BadRequestError(
      `the manifest's background row ${bad} has ${rows[bad].length} values; the model takes ${space.size}: send "background" (or a baseline) in the request`,
    );
  return rows.map((r) => Float32Array.from(r));
}

/** The model input of an all-zero raw input: zero features, the empty text, a black image. */
function zerosRow(manifest: Manifest, space: InputSpace): Float32Array {
  const natural = inputKindOf(manifest);
  return natural?.kind.zeroRow(natural.settings, space.size) ?? new Float32Array(space.size);
}

function meanRow(manifest: Manifest, space: InputSpace): Float32Array {
  const natural = inputKindOf(manifest);
  const own = natural?.kind.meanRow(natural.settings, space.size);
  if (own) return own;
  const rows = storedBackground(manifest, space);
  if (!rows) throw new BadRequestError(`baseline "mean": model ${manifest.name} stores no background sample to average; use "zeros" or give a baseline`);
  const mean = new Float64Array(space.size);
  for (const row of rows) for (let j = 0; j < space.size; j++) mean[j] += row[j] / rows.length;
  return Float32Array.from(mean);
}

export type BaselineKind = 'zeros' | 'mean' | 'given';

/** How messages name the baseline: as the request gave it, or the one it chose. */
export function baselinePlace(kind: BaselineKind): string {
  return kind === 'given' ? 'baseline' : `baseline "${kind}"`;
}

/** The integrated-gradients baseline. Default: the feature means for tabular models, else zeros. */
export async function baselineRow(
  manifest: Manifest,
  space: InputSpace,
  baseline: ExplainRequest['baseline'],
  budget: EncodeBudget,
): Promise<{ row: Float32Array; kind: BaselineKind }> {
  const chosen = baseline ?? inputKindOf(manifest)?.kind.defaultBaseline ?? 'zeros';
  if (chosen === 'zeros') return { row: zerosRow(manifest, space), kind: 'zeros' };
  if (chosen === 'mean') return { row: meanRow(manifest, space), kind: 'mean' };
  if (Array.isArray(chosen)) return { row: flatRow(chosen, space, 'baseline'), kind: 'given' };
  return { row: (await encodeRows(manifest, [chosen], 'baseline', budget, space, undefined, () => 'baseline')).rows.data, kind: 'given' };
}

export type BackgroundKind = KernelShapParams['background'];

/**
 * The kernelShap background. Text defaults to the empty text: a removed word is then simply
 * absent, which is what "this word's contribution" means for a bag of words (a stored document
 * would instead swap in the words of some unrelated message).
 */
export async function backgroundRows(
  manifest: Manifest,
  space: InputSpace,
  background: unknown[] | undefined,
  budget: EncodeBudget,
): Promise<{ rows: Float32Array[]; kind: BackgroundKind }> {
  if (background) {
    const { rows } = await encodeRows(manifest, background, 'background', budget, space);
    return { rows: Array.from({ length: rows.count }, (_, i) => rows.data.slice(i * space.size, (i + 1) * space.size)), kind: 'request' };
  }
  const label = inputKindOf(manifest)?.kind.zeroBackground;
  if (label) return { rows: [zerosRow(manifest, space)], kind: label };
  const stored = storedBackground(manifest, space);
  if (stored) return { rows: stored, kind: 'manifest' };
  return { rows: [zerosRow(manifest, space)], kind: 'zeros' };
}

/** How messages name background row r: by its place in the request or the manifest, or what was made for the request. */
export function backgroundPlace(kind: BackgroundKind): (r: number) => string {
  if (kind === 'request') return (r) => `background[${r}]`;
  if (kind === 'manifest') return (r) => `the manifest's background row ${r}`;
  return () => `the background (${kind})`;
}
