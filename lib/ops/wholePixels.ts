/**
 * An image model whose input takes whole numbers (MoveNet's int32, a detector's uint8: TF.js holds
 * every integer type as int32) is fed its pixels as they are, 0..255, as its authors' code does
 * (@vladmandic/human casts the decoded image to int32). Its preprocessing is settled at push: a
 * scale the push does not give is 1 there, not the 1/255 a float input gets, which cut to whole
 * numbers on the way in made every pixel 0 (the model answered a black image for every photo);
 * settings that still shrink pixels into fewer values, or give values outside a narrower type the
 * model declares (uint8: 0..255), are refused, saying what a pixel becomes.
 */
import { BadRequestError } from '../errors.js';
import { type ImageSettings, pixelScale } from '../inputs/image.js';
import { inputSettingsSchema } from '../inputs/kinds.js';
import { declaredRange } from '../tensors/valueRanges.js';
import type { ManifestFields, TensorSpec } from '../registry/manifest.js';

/** The fields with an integer image input's preprocessing settled: scale 1 unless given, and refused if pixels would not stay apart (or in the declared type's range). */
export function withWholePixels(input: TensorSpec, fields: Partial<ManifestFields>): Partial<ManifestFields> {
  const given = fields.transforms?.input as Record<string, unknown> | undefined;
  if (input.dtype !== 'int32' || given?.kind !== 'image') return fields;
  const settled = given.scale === undefined ? { ...given, scale: 1 } : given;
  const parsed = inputSettingsSchema.safeParse(settled);
  // Settings that do not parse are refused with the manifest, in the schema's words.
  if (!parsed.success) return fields;
  const settings = parsed.data as ImageSettings;
  const { mean, std, channels } = settings;
  const perPixel = pixelScale(settings);
  // A pixel p becomes (p * scale + offset - mean) / std = p * a + b in each channel, cut toward zero.
  // With |a| < 1 pixels that differ become one value (1/255: every pixel 0, white 1): what the
  // model sees is no longer the image. A fraction in b alone only shifts them (a pipeline that
  // centres and casts, as TF.js's cast cuts it), and is taken.
  for (let c = 0; c < channels; c++) {
    const [a, b] = [perPixel.scale[c], perPixel.offset[c]];
    const channel = Array.isArray(mean) || Array.isArray(std) ? ` in channel ${c}` : '';
    if (Math.abs(a) < 1) {
      throw new BadRequestError(
        `input ${input.name} takes whole numbers (int32), and the image preprocessing makes pixel p (0..255) the value p * ${a} + ${b}${channel}, cut to a whole number on the way in, so that pixels that differ become one value (with scale 1/255 every pixel is 0): give scale 1 (pixels as 0..255, as the model's own code feeds it), or settings that keep pixels apart`,
      );
    }
    // A narrower type the model declares (uint8) holds fewer values: every pixel's must be one of them.
    // Judged after the cut toward zero, as the model receives them: an offset of 0.5 keeps 255 at 255.
    const range = declaredRange(input);
    const [low, high] = [Math.trunc(Math.min(b, 255 * a + b)), Math.trunc(Math.max(b, 255 * a + b))];
    if (range && (low < range[0] || high > range[1])) {
      throw new BadRequestError(
        `input ${input.name} takes ${input.declaredDtype} values (${range[0]}..${range[1]}), and the image preprocessing makes pixels 0..255 the values ${low}..${high}${channel}: give settings that keep them in ${range[0]}..${range[1]} (scale 1: pixels as they are)`,
      );
    }
  }
  return { ...fields, transforms: { ...fields.transforms, input: settled as { kind: string } } };
}
