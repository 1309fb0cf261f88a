/**
 * Image instances ({"b64": ...}, {"image": {"b64": ...}}, a base64 or data: URL string) -> the NHWC
 * rows the image model was trained on:
 * bytes -> decode -> grey or RGB (alpha over white) -> invert? -> stretch or MNIST fit -> value * scale + offset.
 * The pieces live in ./image/.
 */
import { z } from 'zod';
import { heatmapAnswer, patchGroups } from './image/attributions.js';
import { decodeImage, imageBytesOf, isImageInstance } from './image/decode.js';
import { preparePlane, toPlane } from './image/plane.js';
import type { InputKind } from './kind.js';

const settingsSchema = z.object({
  kind: z.literal('image'),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  channels: z.union([z.literal(1), z.literal(3)]),
  scale: z.number().default(1 / 255),
  offset: z.number().default(0),
  /** Invert (255 - v) before fitting; 'auto' when most border pixels are bright (dark drawing on white). */
  invert: z.enum(['never', 'always', 'auto']).default('never'),
  /** stretch: resize the whole image; mnist: crop to the ink, fit a 20/28 box, centre by centre of mass. */
  fit: z.enum(['stretch', 'mnist']).default('stretch'),
});

export type ImageSettings = z.infer<typeof settingsSchema>;

/** Image instances -> NHWC Float32Array (rows concatenated); BadRequestError names `${where}[i]`. */
export function encodeImages(settings: ImageSettings, values: unknown[], where = 'instances'): Float32Array {
  const size = settings.width * settings.height * settings.channels;
  const out = new Float32Array(values.length * size);
  values.forEach((value, r) => {
    const path = `${where}[${r}]`;
    const image = decodeImage(imageBytesOf(value, path), path);
    const plane = preparePlane(settings, toPlane(image, settings.channels));
    const row = out.subarray(r * size, (r + 1) * size);
    for (let i = 0; i < size; i++) row[i] = plane.data[i] * settings.scale + settings.offset;
  });
  return out;
}

const shapeOf = (settings: ImageSettings) => ({ height: settings.height, width: settings.width, channels: settings.channels });

export const imageKind: InputKind<ImageSettings> = {
  kind: 'image',
  schema: settingsSchema,
  contentTypes: ['base64'],
  instanceHelp: '{"b64": "<base64 PNG or JPEG>"} (also {"image": {"b64": ...}} or a data: URL)',
  rowShape: (settings) => [settings.height, settings.width, settings.channels],
  // A long string is taken as base64 image bytes; a short one cannot be an image.
  isInstance: (_settings, value) => isImageInstance(value) || (typeof value === 'string' && value.length > 64),
  encode: encodeImages,
  fromRecord: (_settings, record, ignore) => {
    const rest = Object.entries(record).filter(([k]) => !ignore.includes(k));
    return record.image ?? record.b64 ?? (rest.length === 1 ? rest[0][1] : undefined);
  },
  requiredColumns: () => undefined,
  fromCsvCells: (_settings, instance) => instance,
  describe: (settings) => ({ ...settings }),
  defaultBaseline: 'zeros',
  // A black image: every pixel 0, after scale and offset.
  zeroRow: (settings, size) => new Float32Array(size).fill(settings.offset),
  meanRow: () => undefined,
  imageShape: shapeOf,
  featureGroups: (settings, _row, options) => patchGroups(shapeOf(settings), options.patchSize),
  mapAttributions: (settings, view) => heatmapAnswer(shapeOf(settings), view.row, view.values, view.png, settings),
};
