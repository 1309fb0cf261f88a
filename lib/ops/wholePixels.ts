/**
 * An image model whose input takes whole numbers (MoveNet's int32, a detector's uint8: TF.js holds
 * every integer type as int32) is fed its pixels as they are, 0..255, as its authors' code does
 * (@vladmandic/human casts the decoded image to int32). Its preprocessing is settled at push: a
 * scale the push does not give is 1 there, not the 1/255 a float input gets, which cut to whole
 * numbers on the way in made every pixel 0 (the model answered a black image for every photo);
 * settings that still give fractions are refused, saying what a pixel becomes.
 */
import { BadRequestError } from '../errors.js';
import type { ImageSettings } from '../inputs/image.js';
import { inputSettingsSchema } from '../inputs/kinds.js';
import type { ManifestFields, TensorSpec } from '../registry/manifest.js';

/** Close enough to a whole number that float arithmetic, not the settings, made the difference. */
const isWhole = (x: number) => Math.abs(x - Math.round(x)) < 1e-9;

const perChannel = (value: number | number[], channels: number) => (Array.isArray(value) ? value : new Array<number>(channels).fill(value));

/** The fields with an integer image input's preprocessing settled: scale 1 unless given, and refused if a pixel would not stay whole. */
export function withWholePixels(input: TensorSpec, fields: Partial<ManifestFields>): Partial<ManifestFields> {
  const given = fields.transforms?.input as Record<string, unknown> | undefined;
  if (input.dtype !== 'int32' || given?.kind !== 'image') return fields;
  const settled = given.scale === undefined ? { ...given, scale: 1 } : given;
  const parsed = inputSettingsSchema.safeParse(settled);
  // Settings that do not parse are refused with the manifest, in the schema's words.
  if (!parsed.success) return fields;
  const { scale, offset, mean, std, channels } = parsed.data as ImageSettings;
  const means = perChannel(mean, channels);
  const stds = perChannel(std, channels);
  // A pixel p becomes (p * scale + offset - mean) / std = p * a + b in each channel: whole for every p when a and b are.
  for (let c = 0; c < channels; c++) {
    const a = scale / stds[c];
    const b = (offset - means[c]) / stds[c];
    if (!isWhole(a) || !isWhole(b)) {
      const channel = Array.isArray(mean) || Array.isArray(std) ? ` in channel ${c}` : '';
      throw new BadRequestError(
        `input ${input.name} takes whole numbers (int32), and the image preprocessing makes pixel p (0..255) the value p * ${a} + ${b}${channel}, which is cut to a whole number on the way in (with scale 1/255 every pixel is 0): give scale 1 and no offset, mean or std (pixels as 0..255, as the model's own code feeds it), or settings that keep pixels whole`,
      );
    }
  }
  return { ...fields, transforms: { ...fields.transforms, input: settled as { kind: string } } };
}
