/**
 * What one image takes while it is decoded and fitted, checked against the memory budget before a
 * pixel is decoded (the header gives its size). Its row of model input is small (224 x 224 x 3 is
 * 0.6 MB); the way there is not: a 2048 x 2048 photo is 16 MB of RGBA, 48 MB as a float RGB plane,
 * 48 MB more as a tensor, and letterboxed (fit contain) to a 2:1 model up to 100 MB more. Only the
 * row was checked before: in a 256 MB function such a photo letterboxed to a 448 x 224 model took
 * the process to a peak of 303 MB. It gets a 413 with the figures instead.
 *
 * The count is the sum of every copy the code makes (decode.ts decodingBytes, fit.ts fitBytes, and
 * the planes below), as if none were collected before the peak. Measured on the wasm backend (what
 * Lambda runs), one 2048 x 2048 image in a fresh process after a small one of the same format: the
 * rise of its peak RSS (VmHWM), and the count:
 *
 *   PNG RGBA, stretch to 224 x 224 RGB          150-153 MB    175 MB
 *     contain to 448 x 224 (padded to 4096 wide)    247 MB    273 MB
 *     contain, area resampling                  341-346 MB    380 MB
 *     stretch, area resampling                  197-200 MB    229 MB
 *     cover to 448 x 224                        221-222 MB    201 MB
 *     invert and BGR (two more planes)          266-269 MB    271 MB
 *     grey (1 channel), stretch                  86-102 MB    110 MB
 *     grey, mnist to 28 x 28                    123-126 MB    141 MB
 *   PNG RGB, stretch                            140-141 MB    162 MB
 *   JPEG baseline, stretch                          139 MB    138 MB
 *   JPEG progressive, stretch                   161-167 MB    162 MB
 *   JPEG, EXIF orientation 6, stretch           235-237 MB    234 MB
 *     contain to 448 x 224                      331-333 MB    332 MB
 *
 * At most 10% under (cover), else over; the budget's 64 MB margin for what a request makes beyond
 * its plan (runtime/memory.ts) covers the difference. On the cpu backend a tensor can share its
 * array and freed ones go back at once: the count is further over there (PNG stretch: 117 MB
 * measured, 175 counted).
 */
import { megabytes } from '../../bytes.js';
import { InstanceTooLargeError, type EncodeBudget } from '../budget.js';
import { decodingBytes, type ImageHeader } from './decode.js';
import { type FitSettings, fitBytes, turnedSideways } from './fit.js';

/** The settings that decide how much of the image is held at once. */
export interface WorkingSettings extends FitSettings {
  channels: 1 | 3;
  invert: 'never' | 'always' | 'auto';
  channelOrder: 'rgb' | 'bgr';
}

/** Float planes held at once: the image's, its inverted copy, its BGR copy (plane.ts). */
function planeCopies(settings: WorkingSettings): number {
  return 1 + (settings.invert === 'never' ? 0 : 1) + (settings.channelOrder === 'bgr' && settings.channels === 3 ? 1 : 0);
}

/** Peak bytes of decoding an image of this header and file size, and turning and fitting it to the model's input. */
function imageWorkingBytes(settings: WorkingSettings, header: ImageHeader, fileBytes: number, orientation: number, where: string): number {
  const plane = header.width * header.height * settings.channels * 4;
  const row = settings.width * settings.height * settings.channels * 4; // its row of model input, written last
  const fit = fitBytes(settings, header.height, header.width, settings.channels, orientation, where);
  // The file's bytes as the request's base64 decoded to them, then what decoding takes.
  return fileBytes + decodingBytes(header, fileBytes) + planeCopies(settings) * plane + fit + row;
}

/** The header of the same image scaled to w x h (its file assumed to scale with its pixels). */
function scaled(header: ImageHeader, w: number, h: number): ImageHeader {
  if (header.format === 'jpeg') return { ...header, width: w, height: h };
  return { ...header, width: w, height: h, rowBytes: Math.ceil(((header.rowBytes - 1) * w) / header.width) + 1 };
}

/** The largest width x height at the image's aspect ratio that `fits`; undefined when not even 1 x 1 does. */
function largestFitting(fits: (width: number, height: number) => boolean, width: number, height: number): [number, number] | undefined {
  const at = (scale: number): [number, number] => [Math.max(1, Math.floor(width * scale)), Math.max(1, Math.floor(height * scale))];
  if (!fits(...at(0))) return undefined;
  let [low, high] = [0, 1];
  for (let i = 0; i < 24; i++) {
    const middle = (low + high) / 2;
    if (fits(...at(middle))) low = middle;
    else high = middle;
  }
  return at(low);
}

/**
 * A 413 (InstanceTooLargeError) before an image is decoded when decoding and fitting it would take
 * more than `budget` has now.
 *
 * The request's rows of model input were checked on their own (encode.ts), and are not counted
 * again here: rows are sized to fill the budget (evaluate's chunks, a request of as many instances
 * as a 413 said fit), and those must still be answered, which the transient memory of their
 * images beside all their rows would not allow. Rows already written are in what the budget
 * measures; at worst (rows as large as the budget, and a photo as large as it too) the two reach
 * twice the budget, of which its margins (15% and 64 MB, runtime/memory.ts) take a part.
 */
export function checkImageFits(settings: WorkingSettings, header: ImageHeader, fileBytes: number, orientation: number, budget: EncodeBudget, where: string, ownSize = false): void {
  const needed = imageWorkingBytes(settings, header, fileBytes, orientation, where);
  const available = budget.availableFor(needed);
  if (needed <= available) return;
  const { width, height } = header;
  // The size named is for the client's next request, measured afresh (promisable), as a count of instances is.
  const promisable = budget.promisable();
  // A model of any size takes the smaller image at its size: its row shrinks with it.
  const at = (w: number, h: number) => (ownSize ? { ...settings, ...(turnedSideways(orientation) ? { width: h, height: w } : { width: w, height: h }) } : settings);
  const scaledFits = (w: number, h: number) =>
    imageWorkingBytes(at(w, h), scaled(header, w, h), Math.ceil((fileBytes * w * h) / (width * height)), orientation, where) <= promisable;
  const smaller = largestFitting(scaledFits, width, height);
  const fitting = ownSize ? 'taking it at its own size' : `fitting it to the model's ${settings.width}x${settings.height} (fit ${settings.fit})`;
  throw new InstanceTooLargeError(
    `${where}: image is ${width}x${height}; decoding it and ${fitting} takes ${megabytes(needed)} at its peak; ` +
      `this function can give ${budget.describe()}: ` +
      `${smaller ? `scaled down to ${smaller[0]}x${smaller[1]}${settings.fit === 'contain' ? " (or nearer the model's aspect ratio)" : ''} it fits now; ` : ''}` +
      `${budget.largerSettingFor(needed)} would take it`,
  );
}
