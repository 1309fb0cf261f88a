/**
 * `modelctl push` preprocessing flags -> the manifest's `transforms.input` (an input kind's
 * settings). The kind's own schema, the one the manifest's is made of, checks the result here,
 * before the model is read: a bad value is a usage mistake (exit 2) named by its flag, and the
 * allowed values are written once, in the kind.
 *
 *   --image 224x224x3 --resize bilinear --align-corners --fit cover --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225
 *   --image 96x96x3 --crop 0,0.1,0.9,0.9 --scale 1
 *   --image 64x64x1 --grey-weights 0.2989,0.587,0.114 --scale 0.00784313725 --offset -1
 *   --image 416x416x3 --layout chw --mean 103.53,116.28,123.675 --std 57.375,57.12,58.395 --scale 1
 *   --features sepal_length,sepal_width [--mean 5.8,3.0 --std 0.8,0.4]     (mean/std given: standardised by the service)
 *   --vocabulary words.txt [--count] [--no-lowercase] [--token-pattern "[a-z]+"]
 */
import { imageKind } from '../../lib/inputs/image.js';
import { inputSettingsSchema } from '../../lib/inputs/kinds.js';
import { flagOf, UsageError } from '../errors.js';
import { readOptionFile } from '../userFiles.js';

export interface PreprocessingOptions {
  image?: string;
  resize?: string;
  alignCorners?: boolean;
  halfPixelCenters?: boolean;
  fit?: string;
  crop?: string;
  fill?: string;
  scale?: string;
  offset?: string;
  mean?: string;
  std?: string;
  channelOrder?: string;
  layout?: string;
  greyWeights?: string;
  alpha?: string;
  invert?: string;
  exifOrientation?: boolean;
  features?: string;
  vocabulary?: string;
  lowercase?: boolean;
  tokenPattern?: string;
  count?: boolean;
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function numbers(flag: string, text: string): number[] {
  const values = list(text).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new UsageError(`--${flag}: expected numbers separated by commas, got ${JSON.stringify(text)}`);
  return values;
}

const number = (flag: string, text: string | undefined) => (text === undefined ? undefined : numbers(flag, text)[0]);
const oneOrMany = (flag: string, text: string | undefined) => {
  if (text === undefined) return undefined;
  const values = numbers(flag, text);
  return values.length === 1 ? values[0] : values;
};

function cropBox(text: string): number[] {
  const box = numbers('crop', text);
  if (box.length !== 4) throw new UsageError(`--crop: expected top,left,bottom,right (4 fractions of the height and width), got ${JSON.stringify(text)}`);
  return box;
}

/** Drops the flags that were not given, so the kind's defaults apply. */
const given = (settings: Record<string, unknown>) => Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));

function image(options: PreprocessingOptions, size: string): Record<string, unknown> {
  // anyxC: each image at its own size, for a model whose input leaves height and width open (an upscaler).
  const match = /^(?:(\d+)x(\d+)|any)x([13])$/.exec(size);
  // A zero side is refused here, naming the flag, rather than by the manifest's schema at the push (exit 1).
  if (!match || (match[1] !== undefined && (Number(match[1]) === 0 || Number(match[2]) === 0))) {
    throw new UsageError(
      `--image: expected WIDTHxHEIGHTxCHANNELS with sides of at least 1 and 1 or 3 channels, e.g. 224x224x3, or anyxCHANNELS to take each image at its own size, got ${JSON.stringify(size)}`,
    );
  }
  if (match[1] === undefined) {
    // Nothing is resampled or padded at an image's own size: flags that would say how are mistakes.
    const flags = {
      '--fit': options.fit,
      '--resize': options.resize,
      '--align-corners': options.alignCorners,
      '--half-pixel-centers': options.halfPixelCenters,
      '--fill': options.fill,
    };
    const [flag] = Object.entries(flags).find(([, value]) => value !== undefined) ?? [];
    if (flag) throw new UsageError(`${flag}: --image ${size} takes each image at its own size, with nothing resized or padded: drop ${flag}`);
  }
  return given({
    kind: 'image',
    width: match[1] === undefined ? undefined : Number(match[1]),
    height: match[2] === undefined ? undefined : Number(match[2]),
    channels: Number(match[3]),
    resize: options.resize,
    alignCorners: options.alignCorners,
    halfPixelCenters: options.halfPixelCenters,
    fit: options.fit,
    crop: options.crop === undefined ? undefined : cropBox(options.crop),
    fill: number('fill', options.fill),
    scale: number('scale', options.scale),
    offset: number('offset', options.offset),
    mean: oneOrMany('mean', options.mean),
    std: oneOrMany('std', options.std),
    channelOrder: options.channelOrder,
    layout: options.layout,
    greyWeights: options.greyWeights === undefined ? undefined : numbers('grey-weights', options.greyWeights),
    alpha: options.alpha,
    invert: options.invert,
    exifOrientation: options.exifOrientation,
  });
}

function tabular(options: PreprocessingOptions, names: string[]): Record<string, unknown> {
  const mean = options.mean === undefined ? undefined : numbers('mean', options.mean);
  const std = options.std === undefined ? undefined : numbers('std', options.std);
  for (const [flag, values] of [
    ['mean', mean],
    ['std', std],
  ] as const) {
    if (values && values.length !== names.length) throw new UsageError(`--${flag}: ${values.length} values for ${names.length} features`);
  }
  const features = names.map((name, i) => given({ name, mean: mean?.[i], std: std?.[i] }));
  return { kind: 'tabular', features, standardize: mean !== undefined || std !== undefined };
}

async function text(options: PreprocessingOptions, file: string): Promise<Record<string, unknown>> {
  const vocabulary = (await readOptionFile('--vocabulary', file, 'utf8'))
    .split(/\r?\n/)
    .map((w) => w.trim())
    .filter(Boolean);
  return given({ kind: 'text', vocabulary, lowercase: options.lowercase, tokenPattern: options.tokenPattern, mode: options.count ? 'count' : undefined });
}

/** Flags not named as their setting in kebab case (a tabular feature's `name` comes from --features). */
const FLAG_OF_SETTING: Record<string, string> = { mode: '--count', lowercase: '--no-lowercase', exifOrientation: '--no-exif-orientation', name: '--features' };

/**
 * The settings, checked by the input kind's schema as the push would (an unchecked `--fit bogus`
 * was an invalid manifest, exit 1); each complaint names the flag, what it takes and what it got.
 */
function checked(settings: Record<string, unknown>, options: PreprocessingOptions): Record<string, unknown> {
  const parsed = inputSettingsSchema.safeParse(settings);
  if (parsed.success) return settings;
  const complaints = parsed.error.issues.map((issue) => {
    const { path } = issue;
    // A tabular feature's mean or std is one of the values of --mean or --std.
    const feature = path[0] === 'features' && typeof path[1] === 'number' && path.length > 2 ? path[1] : undefined;
    const key = feature === undefined ? path[0] : path[2];
    if (key === undefined) return issue.message;
    const flag = flagOf(key, FLAG_OF_SETTING);
    const where = feature === undefined ? '' : ` value ${feature + 1} (feature ${(settings.features as { name: string }[])[feature].name})`;
    const typed = (options as Record<string, unknown>)[String(key)];
    const got = typeof typed === 'string' ? `, got ${JSON.stringify(typed)}` : '';
    // An enum's issue lists its values (they come from the schema, so they cannot drift from it).
    const allowed = 'values' in issue && Array.isArray(issue.values) ? issue.values : undefined;
    return allowed ? `${flag}${where} must be one of ${allowed.join(', ')}${got}` : `${flag}${where}: ${issue.message}${got}`;
  });
  throw new UsageError(complaints.join('; '));
}

/** The input settings the flags describe, or undefined when no kind flag was given. */
export async function preprocessingFrom(options: PreprocessingOptions): Promise<Record<string, unknown> | undefined> {
  const kinds = [options.image, options.features, options.vocabulary].filter((v) => v !== undefined);
  if (kinds.length > 1) throw new UsageError('give one of --image, --features or --vocabulary');
  if (options.image !== undefined) return checked(image(options, options.image), options);
  if (options.features !== undefined) return checked(tabular(options, list(options.features)), options);
  if (options.vocabulary !== undefined) return checked(await text(options, options.vocabulary), options);
  const imageOnly = (
    ['resize', 'alignCorners', 'halfPixelCenters', 'fit', 'crop', 'fill', 'scale', 'offset', 'channelOrder', 'layout', 'greyWeights', 'alpha', 'invert'] as const
  ).filter((k) => options[k] !== undefined);
  if (imageOnly.length > 0 || options.mean !== undefined || options.std !== undefined) {
    throw new UsageError('preprocessing flags need the input kind: --image WxHxC, --features a,b,c or --vocabulary file');
  }
  return undefined;
}

/** The stored settings, as the push prints them (a vocabulary by its size). */
export function describeSettings(settings: Record<string, unknown> | undefined): string {
  if (!settings) return 'preprocessing: none (raw tensors)';
  // An image's settings as metadata shows them (of any size: without the fitting it does not do).
  const image = settings.kind === 'image' ? imageKind.schema.safeParse(settings) : undefined;
  const shown = image?.success
    ? imageKind.describe(image.data)
    : Array.isArray(settings.vocabulary)
      ? { ...settings, vocabulary: `${settings.vocabulary.length} words` }
      : settings;
  return `preprocessing: ${JSON.stringify(shown)}`;
}
