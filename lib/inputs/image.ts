/**
 * Image instances ({"b64": ...}, {"image": {"b64": ...}}, a base64 or data: URL string) -> the NHWC
 * rows the image model was trained on, in this order:
 *
 *   0. check what decoding and fitting it takes against the memory budget, from its header  (workingMemory.ts)
 *   1. decode PNG or JPEG to RGBA                          (decode.ts)
 *   2. turn upright by the JPEG's EXIF orientation         (orientation.ts; exifOrientation: false skips it)
 *   3. alpha dropped or over white; grey (luminance, or greyWeights) or RGB   (plane.ts)
 *   4. invert (255 - v) if asked; BGR order if asked
 *   5. fit to width x height: stretch, cover, contain, mnist, resampled by `resize`, or a crop box
 *      resized as tf.image.cropAndResize does   (fit.ts)
 *   6. normalise each channel: (value * scale + offset - mean[c]) / std[c]
 *
 * Each option's default and the pipelines it matches are in the README ("Image preprocessing").
 */
import { z } from 'zod';
import { asHwc, heatmapAnswer, hwcIndex, patchGroups } from './image/attributions.js';
import type { EncodeBudget } from './budget.js';
import { decodeImage, imageBytesOf, isImageInstance, readImageHeader } from './image/decode.js';
import { fitPlane } from './image/fit.js';
import { exifOrientation } from './image/orientation.js';
import { rowToPng, type PixelScale } from './image/pixels.js';
import { inverted, toBgr, toPlane } from './image/plane.js';
import { checkImageFits } from './image/workingMemory.js';
import { instanceCell } from './instanceColumn.js';
import type { ImageShape, InputKind } from './kind.js';

const perChannel = (name: string, positive: boolean) =>
  z.union([z.number(), z.array(z.number()).min(1)]).refine((v) => !positive || (Array.isArray(v) ? v : [v]).every((x) => x > 0), `${name} must be positive`);

const settingsSchema = z
  .object({
    kind: z.literal('image'),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    channels: z.union([z.literal(1), z.literal(3)]),
    /**
     * channels 1: grey = r * R + g * G + b * B with these [r, g, b] instead of luminance's 0.299, 0.587,
     * 0.114, for a model whose own pipeline weighs them otherwise (@vladmandic/human's 0.2989, 0.587, 0.114).
     */
    greyWeights: z.tuple([z.number(), z.number(), z.number()]).optional(),
    /**
     * A pixel's transparency: 'drop' reads the colour stored under it, as the pipelines models are
     * trained and run with do (TensorFlow's decode_png with channels 3, tf.node.decodeImage(bytes, 3),
     * tf.browser.fromPixels, PIL's convert('RGB')); 'white' composites it over white (a drawing on a
     * transparent canvas). A push settles it ('drop' unless given: ops/pushFolder.ts); a manifest
     * without it was pushed before it existed and was served over white, as it still is.
     */
    alpha: z.enum(['drop', 'white']).default('white'),
    /** Resampling: TF.js's resizeBilinear or resizeNearestNeighbor, or area averaging (ours). */
    resize: z.enum(['bilinear', 'nearest', 'area']).default('bilinear'),
    /** As in tf.image.resizeBilinear / resizeNearestNeighbor (TF 1's legacy grid when both are false). */
    alignCorners: z.boolean().default(false),
    halfPixelCenters: z.boolean().default(false),
    fit: z.enum(['stretch', 'cover', 'contain', 'mnist']).default('stretch'),
    /**
     * [top, left, bottom, right], fractions of the image's height and width: the box
     * tf.image.cropAndResize takes ([y1, x1, y2, x2]), resampled as it samples (the box's corners
     * on its output's), for a model whose pipeline crops so (@vladmandic/human's gear: [0, 0.1, 0.9, 0.9]).
     */
    crop: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)]).optional(),
    /** contain: the padding's value, 0..255 before scaling (0 black). */
    fill: z.number().min(0).max(255).default(0),
    scale: z.number().default(1 / 255),
    offset: z.number().default(0),
    /** Subtracted after scale and offset: one number, or one per channel (in channelOrder). */
    mean: perChannel('mean', false).default(0),
    /** Divided by last: one number, or one per channel. */
    std: perChannel('std', true).default(1),
    channelOrder: z.enum(['rgb', 'bgr']).default('rgb'),
    /**
     * The order of a row's values: height, width, channels (TF's own), or channels first, as a
     * model converted from PyTorch takes them (human's nanodet: [3, 416, 416]).
     */
    layout: z.enum(['hwc', 'chw']).default('hwc'),
    /** Invert (255 - v) before fitting; 'auto' when most border pixels are bright (dark drawing on white). */
    invert: z.enum(['never', 'always', 'auto']).default('never'),
    /** Turn a JPEG upright by its EXIF orientation before anything else. */
    exifOrientation: z.boolean().default(true),
  })
  .superRefine((s, context) => {
    for (const name of ['mean', 'std'] as const) {
      const value = s[name];
      if (Array.isArray(value) && value.length !== s.channels) {
        context.addIssue({
          code: 'custom',
          path: [name],
          message: `${name} has ${value.length} values; the image has ${s.channels} channel(s): give one number or one per channel`,
        });
      }
    }
    if (s.greyWeights && s.channels !== 1) context.addIssue({ code: 'custom', path: ['greyWeights'], message: 'greyWeights apply to a 1-channel (grey) image' });
    if (s.alignCorners && s.halfPixelCenters)
      context.addIssue({ code: 'custom', path: ['halfPixelCenters'], message: 'alignCorners and halfPixelCenters cannot both be true (as in TF.js)' });
    if (s.crop) {
      const [top, left, bottom, right] = s.crop;
      if (!(top < bottom && left < right)) context.addIssue({ code: 'custom', path: ['crop'], message: 'crop is top,left,bottom,right with top < bottom and left < right' });
      if (s.fit !== 'stretch')
        context.addIssue({ code: 'custom', path: ['crop'], message: `crop resizes its box to the model's size (fit stretch); fit ${s.fit} fits the whole image` });
      if (s.resize === 'area') context.addIssue({ code: 'custom', path: ['crop'], message: 'crop resamples as tf.image.cropAndResize does: resize bilinear or nearest, not area' });
      if (s.alignCorners || s.halfPixelCenters)
        context.addIssue({
          code: 'custom',
          path: ['crop'],
          message: "crop samples as tf.image.cropAndResize does (the box's corners on the output's): alignCorners and halfPixelCenters do not apply",
        });
    }
    if (s.resize === 'area' && (s.alignCorners || s.halfPixelCenters)) {
      context.addIssue({ code: 'custom', path: ['resize'], message: 'alignCorners and halfPixelCenters apply to bilinear and nearest resizing, not area' });
    }
  });

export type ImageSettings = z.infer<typeof settingsSchema>;

const perChannelValues = (value: number | number[], channels: number) => (Array.isArray(value) ? value : new Array<number>(channels).fill(value));

/** An image's header and EXIF orientation, and with a budget, what decoding and fitting it takes checked against it: nothing decoded yet. */
async function checkedHeader(settings: ImageSettings, bytes: Uint8Array, where: string, budget?: EncodeBudget) {
  const orientation = settings.exifOrientation ? await exifOrientation(bytes) : 1;
  const header = readImageHeader(bytes, where);
  if (budget) checkImageFits(settings, header, bytes.length, orientation, budget, where);
  return { header, orientation };
}

/**
 * One image's bytes -> its row of model inputs (height x width x channels, or channels first). With a budget, what
 * decoding and fitting it takes is checked first, from its header.
 */
async function imageRow(settings: ImageSettings, bytes: Uint8Array, where: string, out: Float32Array, budget?: EncodeBudget): Promise<void> {
  const { header, orientation } = await checkedHeader(settings, bytes, where, budget);
  const decoded = decodeImage(bytes, where, header);
  let plane = inverted(toPlane(decoded, settings.channels, settings.alpha, settings.greyWeights), settings.invert);
  if (settings.channelOrder === 'bgr') plane = toBgr(plane);
  const fitted = fitPlane(settings, plane, orientation, where);
  const c = settings.channels;
  const mean = perChannelValues(settings.mean, c);
  const std = perChannelValues(settings.std, c);
  const at = hwcIndex(shapeOf(settings));
  for (let i = 0; i < out.length; i++) out[at(i)] = (fitted.data[i] * settings.scale + settings.offset - mean[i % c]) / std[i % c];
}

/**
 * Image instances -> NHWC (or NCHW) Float32Array (rows concatenated); BadRequestError names `${where}[i]`.
 * With `budget`, an image whose decoding would not fit it is an InstanceTooLargeError (413) naming it, before it is decoded.
 */
export async function encodeImages(settings: ImageSettings, values: unknown[], placeOf = (index: number) => `instances[${index}]`, budget?: EncodeBudget): Promise<Float32Array> {
  const size = settings.width * settings.height * settings.channels;
  const out = new Float32Array(values.length * size);
  for (const [r, value] of values.entries()) {
    const path = placeOf(r);
    await imageRow(settings, imageBytesOf(value, path), path, out.subarray(r * size, (r + 1) * size), budget);
  }
  return out;
}

/** A model-input value back to the 0..255 pixel it came from (for overlays and /preprocess PNGs, and push's check of an integer input: ops/wholePixels.ts). */
export function pixelScale(settings: ImageSettings): PixelScale {
  const c = settings.channels;
  const mean = perChannelValues(settings.mean, c);
  const std = perChannelValues(settings.std, c);
  // value = (pixel * scale + offset - mean) / std  =>  value = pixel * (scale / std) + (offset - mean) / std
  return { scale: std.map((s) => settings.scale / s), offset: std.map((s, i) => (settings.offset - mean[i]) / s), bgr: settings.channelOrder === 'bgr' };
}

/** The columns a data-set record's image is read from, before its only column. */
const IMAGE_COLUMNS = ['image', 'b64'];

const shapeOf = (settings: ImageSettings): ImageShape => ({ height: settings.height, width: settings.width, channels: settings.channels, layout: settings.layout });

export const imageKind: InputKind<ImageSettings> = {
  kind: 'image',
  schema: settingsSchema,
  contentTypes: ['base64'],
  instanceHelp: () => '{"b64": "<base64 PNG or JPEG>"} (also {"image": {"b64": ...}} or a data: URL)',
  rowShape: (settings) => (settings.layout === 'chw' ? [settings.channels, settings.height, settings.width] : [settings.height, settings.width, settings.channels]),
  settingsFor: (settings, taken) => {
    const { channels: c, height: h, width: w } = settings;
    const other = settings.layout === 'hwc' ? [c, h, w] : [h, w, c];
    const open = (d: number, i: number) => d < 0 || d === other[i];
    if (taken.length !== 3 || !taken.every(open)) return undefined;
    return settings.layout === 'hwc' ? 'it takes channels first (layout chw: modelctl push --layout chw)' : 'it takes channels last (layout hwc)';
  },
  // Any string is base64 image bytes (or a data: URL): one too short to be a PNG or JPEG is refused
  // as not an image, not as "neither an instance nor a raw row" with advice a CSV cell cannot follow.
  isInstance: (_settings, value) => isImageInstance(value) || typeof value === 'string',
  encode: encodeImages,
  checkEncodingFits: async (settings, value, where, budget) => {
    await checkedHeader(settings, imageBytesOf(value, where), where, budget);
  },
  fromRecord: (_settings, record, ignore) => instanceCell(record, IMAGE_COLUMNS, ignore),
  recordColumns: IMAGE_COLUMNS,
  requiredColumns: () => undefined,
  fromCsvCells: (_settings, instance) => instance,
  // A crop samples as cropAndResize does, where alignCorners and halfPixelCenters do not apply: not shown beside it.
  describe: (settings) => {
    if (!settings.crop) return { ...settings };
    const { alignCorners: _a, halfPixelCenters: _h, ...shown } = settings;
    return shown;
  },
  rawTensorNote: (settings) =>
    `a raw tensor is what the model receives: ${settings.layout === 'chw' ? `${settings.channels}x${settings.height}x${settings.width} (channels first)` : `${settings.height}x${settings.width}x${settings.channels}`} pixels after the ${settings.crop ? `crop [${settings.crop.join(', ')}] (top, left, bottom, right) resized as tf.image.cropAndResize does` : 'fit'} and (value * scale + offset - mean) / std; send {"b64": ...} images to have them decoded and prepared`,
  defaultBaseline: 'zeros',
  // A black image: every pixel 0, after normalisation.
  zeroRow: (settings, size) => {
    const { offset } = pixelScale(settings);
    const at = hwcIndex(shapeOf(settings));
    const row = new Float32Array(size);
    for (let i = 0; i < size; i++) row[at(i)] = offset[i % settings.channels];
    return row;
  },
  meanRow: () => undefined,
  imageShape: shapeOf,
  preview: (settings, row) => rowToPng(asHwc(shapeOf(settings), row), settings.height, settings.width, settings.channels, pixelScale(settings)),
  featureGroups: (settings, _row, options) => patchGroups(shapeOf(settings), options.patchSize),
  mapAttributions: (settings, view) => heatmapAnswer(shapeOf(settings), view.row, view.values, view.png, pixelScale(settings)),
};
