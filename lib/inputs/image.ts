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
import { BadRequestError } from '../errors.js';
import { asHwc, heatmapAnswer, hwcIndex, patchGroups } from './image/attributions.js';
import type { EncodeBudget } from './budget.js';
import { decodeImage, imageBytesOf, isImageInstance, readImageHeader } from './image/decode.js';
import { fitPlane, turnedSideways } from './image/fit.js';
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
    /**
     * The size images are fitted to. Neither: each image is taken at its own size (after its EXIF
     * orientation), for a model whose input leaves height and width open (an upscaler); a request's
     * images then share the first one's size, as one tensor's rows do (sizedBy below).
     */
    width: z.number().int().positive().optional(),
    height: z.number().int().positive().optional(),
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
    if ((s.width === undefined) !== (s.height === undefined)) {
      context.addIssue({
        code: 'custom',
        path: [s.width === undefined ? 'width' : 'height'],
        message: 'width and height go together: both, or neither to take each image at its own size',
      });
    }
    if (s.width === undefined && s.crop) context.addIssue({ code: 'custom', path: ['crop'], message: 'crop resizes its box to a fixed size: give width and height' });
    if (s.width === undefined && s.fit !== 'stretch') {
      context.addIssue({
        code: 'custom',
        path: ['fit'],
        message: `fit ${s.fit} fits images to a fixed size: give width and height, or leave fit out to take each image at its own size`,
      });
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

/** Settings with a size: as stored, or of a model of any size sized by the request (sizedBy). */
export type SizedImageSettings = ImageSettings & { width: number; height: number };

/**
 * Marks settings of a model of any size that a request's first image sized: its other images must
 * have that size (checked as each is read), not be stretched to it. A symbol key, so that a copy of
 * the settings ({...settings}) keeps the mark, and a manifest read from the store never has it.
 */
const SIZED_BY_REQUEST = Symbol('sized by the request');

const sizedByRequest = (settings: ImageSettings) => (settings as { [SIZED_BY_REQUEST]?: true })[SIZED_BY_REQUEST] === true;

/** The settings' size; settings of any size reach here only sized by their request (ops size it first). */
function sized(settings: ImageSettings): SizedImageSettings {
  if (settings.width === undefined || settings.height === undefined) throw new Error('image settings of any size used before a request sized them');
  return settings as SizedImageSettings;
}

/** Settings that take images at this row's size ([height, width, channels], or channels first). */
function sizedBy(settings: ImageSettings, row: number[]): ImageSettings {
  if (settings.width !== undefined) return settings;
  const [height, width] = settings.layout === 'chw' ? row.slice(1) : row;
  const marked: ImageSettings & { [SIZED_BY_REQUEST]?: true } = { ...settings, width, height };
  marked[SIZED_BY_REQUEST] = true;
  return marked;
}

/** The size an image is read at: its header's, turned by its EXIF orientation. */
const uprightSize = (header: { width: number; height: number }, orientation: number) =>
  turnedSideways(orientation) ? [header.width, header.height] : [header.height, header.width];

const perChannelValues = (value: number | number[], channels: number) => (Array.isArray(value) ? value : new Array<number>(channels).fill(value));

/** An image's header and EXIF orientation, and with a budget, what decoding and fitting it takes checked against it: nothing decoded yet. */
async function checkedHeader(settings: SizedImageSettings, bytes: Uint8Array, where: string, budget?: EncodeBudget) {
  const orientation = settings.exifOrientation ? await exifOrientation(bytes) : 1;
  const header = readImageHeader(bytes, where);
  const ownSize = sizedByRequest(settings);
  if (ownSize) {
    const [height, width] = uprightSize(header, orientation);
    if (height !== settings.height || width !== settings.width) {
      throw new BadRequestError(
        `${where}: image is ${width}x${height}, and this request's first is ${settings.width}x${settings.height}: the model takes each image at its own size, and one request's images make one tensor, so they must share it; send images of other sizes in requests of their own`,
      );
    }
  }
  if (budget) checkImageFits(settings, header, bytes.length, orientation, budget, where, ownSize);
  return { header, orientation };
}

/**
 * One image's bytes -> its row of model inputs (height x width x channels, or channels first). With a budget, what
 * decoding and fitting it takes is checked first, from its header.
 */
async function imageRow(settings: SizedImageSettings, bytes: Uint8Array, where: string, out: Float32Array, budget?: EncodeBudget): Promise<void> {
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
  const withSize = sized(settings);
  const size = withSize.width * withSize.height * withSize.channels;
  const out = new Float32Array(values.length * size);
  for (const [r, value] of values.entries()) {
    const path = placeOf(r);
    await imageRow(withSize, imageBytesOf(value, path), path, out.subarray(r * size, (r + 1) * size), budget);
  }
  return out;
}

/** The row one image makes of a model of any size: its own size after its EXIF orientation. */
async function imageRowShape(settings: ImageSettings, bytes: Uint8Array, where: string): Promise<number[]> {
  const orientation = settings.exifOrientation ? await exifOrientation(bytes) : 1;
  const [height, width] = uprightSize(readImageHeader(bytes, where), orientation);
  return settings.layout === 'chw' ? [settings.channels, height, width] : [height, width, settings.channels];
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

const shapeOf = (settings: ImageSettings): ImageShape => {
  const { height, width, channels, layout } = sized(settings);
  return { height, width, channels, layout };
};

/** A row's sides as the messages write them: 224x224x3, or any height x any width x 3. */
const sizeText = (settings: ImageSettings, channelsFirst: boolean) => {
  const [h, w, x] = settings.width === undefined ? ['any height', 'any width', ' x '] : [settings.height, settings.width, 'x'];
  return channelsFirst ? `${settings.channels}${x}${h}${x}${w} (channels first)` : `${h}${x}${w}${x}${settings.channels}`;
};

export const imageKind: InputKind<ImageSettings> = {
  kind: 'image',
  schema: settingsSchema,
  contentTypes: ['base64'],
  instanceHelp: (settings) =>
    `{"b64": "<base64 PNG or JPEG>"} (also {"image": {"b64": ...}} or a data: URL)${settings.width === undefined ? `, taken at its own size; a request's images share one size` : ''}`,
  rowShape: (settings) => {
    const [h, w] = [settings.height ?? -1, settings.width ?? -1];
    return settings.layout === 'chw' ? [settings.channels, h, w] : [h, w, settings.channels];
  },
  sizedBy,
  rowShapeOf: (settings, value, where) => imageRowShape(settings, imageBytesOf(value, where), where),
  settingsFor: (settings, taken) => {
    const { channels: c } = settings;
    const [h, w] = [settings.height ?? -1, settings.width ?? -1];
    // A model of fixed size, pushed to take images of any size: the size it takes.
    if (h < 0 && taken.length === 3) {
      const [th, tw, tc] = settings.layout === 'chw' ? [taken[1], taken[2], taken[0]] : taken;
      const channels = tc === 1 || tc === 3 ? tc : c;
      if (th > 0 && tw > 0) return `it takes images of ${tw}x${th}: modelctl push --image ${tw}x${th}x${channels}`;
      if (th < 0 && tw < 0 && channels !== c) return `it takes ${channels} channel${channels === 1 ? '' : 's'}: modelctl push --image anyx${channels}`;
    }
    // The size it takes, with other channels: the channels it takes.
    if (h > 0 && taken.length === 3) {
      const [th, tw, tc] = settings.layout === 'chw' ? [taken[1], taken[2], taken[0]] : taken;
      if ((th === h || th < 0) && (tw === w || tw < 0) && (tc === 1 || tc === 3) && tc !== c)
        return `it takes ${tc} channel${tc === 1 ? '' : 's'}: modelctl push --image ${w}x${h}x${tc}`;
    }
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
    const bytes = imageBytesOf(value, where);
    const withSize = settings.width === undefined ? sizedBy(settings, await imageRowShape(settings, bytes, where)) : settings;
    await checkedHeader(sized(withSize), bytes, where, budget);
  },
  fromRecord: (_settings, record, ignore) => instanceCell(record, IMAGE_COLUMNS, ignore),
  recordColumns: IMAGE_COLUMNS,
  requiredColumns: () => undefined,
  fromCsvCells: (_settings, instance) => instance,
  // A crop samples as cropAndResize does, where alignCorners and halfPixelCenters do not apply: not shown beside it.
  describe: (settings) => {
    // At an image's own size nothing is fitted or resampled: those settings' defaults say nothing.
    if (settings.width === undefined) {
      const { resize: _r, alignCorners: _a, halfPixelCenters: _h, fit: _f, fill: _l, ...shown } = settings;
      return shown;
    }
    if (!settings.crop) return { ...settings };
    const { alignCorners: _a, halfPixelCenters: _h, ...shown } = settings;
    return shown;
  },
  rawTensorNote: (settings) =>
    `a raw tensor is what the model receives: ${sizeText(settings, settings.layout === 'chw')} pixels after the ${settings.crop ? `crop [${settings.crop.join(', ')}] (top, left, bottom, right) resized as tf.image.cropAndResize does` : settings.width === undefined ? 'EXIF orientation' : 'fit'} and (value * scale + offset - mean) / std; send {"b64": ...} images to have them decoded and prepared`,
  defaultBaseline: 'zeros',
  // A black image: every pixel 0, after normalisation.
  // Settings a request did not size (a raw row of another rank than an image's) have no image to
  // read the row as: the row is the model's plain values, explained and refused as such.
  zeroRow: (settings, size) => {
    if (settings.width === undefined) return new Float32Array(size);
    const { offset } = pixelScale(settings);
    const at = hwcIndex(shapeOf(settings));
    const row = new Float32Array(size);
    for (let i = 0; i < size; i++) row[at(i)] = offset[i % settings.channels];
    return row;
  },
  meanRow: () => undefined,
  // Of a model of any size, known once a request sized the settings (none: no heatmap to draw).
  imageShape: (settings) => (settings.width === undefined ? undefined : shapeOf(settings)),
  preview: (settings, row) => {
    if (settings.width === undefined)
      throw new BadRequestError(`format png: a row of ${row.length} values is not an image of this model's (${sizeText(settings, settings.layout === 'chw')})`);
    const shape = shapeOf(settings);
    return rowToPng(asHwc(shape, row), shape.height, shape.width, shape.channels, pixelScale(settings));
  },
  featureGroups: (settings, _row, options) => (settings.width === undefined ? undefined : patchGroups(shapeOf(settings), options.patchSize)),
  mapAttributions: (settings, view) => (settings.width === undefined ? undefined : heatmapAnswer(shapeOf(settings), view.row, view.values, view.png, pixelScale(settings))),
};
