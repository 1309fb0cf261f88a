/**
 * Request value -> image bytes -> RGBA pixels, told apart by magic bytes: PNG with pngjs's parts
 * (pngRead.ts, which inflates the image data itself and refuses data short of the header), JPEG with
 * libjpeg-turbo's decompressor (jpeg.ts; what browsers, TensorFlow and PIL decode with, so the pixels
 * are the ones a model's own pipeline saw), CMYK JPEGs with jpeg-js (libjpeg-turbo does not turn
 * CMYK into RGB). Every failure is a BadRequestError naming the JSON path; sizes are checked from
 * the headers before anything is decompressed, so a small request cannot make us allocate gigabytes.
 */
import { crc32 } from 'node:zlib';
import jpeg from 'jpeg-js';
import { BadRequestError } from '../../errors.js';
import { base64Bytes } from '../base64.js';
import { checkOnlyKey } from '../instanceColumn.js';
import { decodeJpegRgba, JpegDataError, jpegDecoderGrownBytes } from './jpeg.js';
import { readPng } from './pngRead.js';

/** Largest accepted side, in pixels (and so at most 4.2 MP, 16 MB of RGBA). */
// 2048 keeps a worst-case JPEG decode under ~1 s and ~130 MB on a 2 GB Lambda (4096: 3.4 s, 500 MB).
const MAX_IMAGE_SIDE = 2048;

export interface DecodedImage {
  width: number;
  height: number;
  /** width * height * 4 bytes, row-major, straight (not premultiplied) alpha. */
  rgba: Uint8Array;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `{"b64": "..."}` (TF Serving's binary convention) or `{"image": {"b64": "..."}}`. */
export function isImageInstance(value: unknown): boolean {
  if (value instanceof Uint8Array) return true; // bytes sent as binary BYTES (OIP's binary extension)
  if (!isPlainObject(value)) return false;
  if (typeof value.b64 === 'string') return true;
  return isPlainObject(value.image) && typeof value.image.b64 === 'string';
}

const DATA_URL = /^data:([^,]*?),/i;

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

const IMAGE_ALONE = 'an image instance is {"b64": "<base64 PNG or JPEG>"} or {"image": {"b64": ...}} alone (the image is the model\'s one input)';

/** The image bytes of `{"b64"}`, `{"image": {"b64"}}`, a base64 string, a `data:...;base64,` URL, or bytes. */
export function imageBytesOf(value: unknown, where: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  let text: string;
  let path = where;
  if (typeof value === 'string') text = value;
  else if (isPlainObject(value) && typeof value.b64 === 'string') {
    checkOnlyKey(value, 'b64', where, IMAGE_ALONE);
    text = value.b64;
    path = `${where}.b64`;
  } else if (isPlainObject(value) && isPlainObject(value.image) && typeof value.image.b64 === 'string') {
    checkOnlyKey(value, 'image', where, IMAGE_ALONE);
    checkOnlyKey(value.image, 'b64', `${where}.image`, IMAGE_ALONE);
    text = value.image.b64;
    path = `${where}.image.b64`;
  } else {
    throw new BadRequestError(`${where}: expected an image as {"b64": "<base64 PNG or JPEG>"}, {"image": {"b64": ...}} or a base64 / data: URL string, got ${describe(value)}`);
  }
  const dataUrl = DATA_URL.exec(text);
  if (dataUrl) {
    if (!/;base64$/i.test(dataUrl[1])) throw new BadRequestError(`${path}: only base64 data URLs are supported`);
    text = text.slice(dataUrl[0].length);
  }
  if (text.trim().length === 0) throw new BadRequestError(`${path}: empty image data`);
  return base64Bytes(text, path);
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (bytes: Uint8Array, magic: number[]) => magic.every((b, i) => bytes[i] === b);

function checkSize(width: number, height: number, where: string): void {
  if (width < 1 || height < 1) throw new BadRequestError(`${where}: image has no pixels (${width}x${height})`);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new BadRequestError(`${where}: image is ${width}x${height}, larger than the ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE} limit`);
  }
}

const u32 = (b: Uint8Array, at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/** Channels per PNG colour type (grey, -, RGB, palette, grey+alpha, -, RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** What a PNG's IHDR says (read before anything is inflated). */
interface PngHeader {
  format: 'png';
  width: number;
  height: number;
  /** Bits per sample (1, 2, 4, 8 or 16). */
  depth: number;
  interlaced: boolean;
  /** Bytes of one row of its image data, inflated, with its filter byte. */
  rowBytes: number;
}

/** Reads IHDR (always the first chunk) and refuses oversized images before anything is inflated. */
function pngHeader(bytes: Uint8Array, where: string): PngHeader {
  if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new BadRequestError(`${where}: corrupt PNG (no IHDR header)`);
  }
  const width = u32(bytes, 16);
  const height = u32(bytes, 20);
  checkSize(width, height, where);
  const depth = bytes[24];
  const rowBytes = Math.ceil((width * (PNG_CHANNELS[bytes[25]] ?? 4) * depth) / 8) + 1;
  return { format: 'png', width, height, depth, interlaced: bytes[28] === 1, rowBytes };
}

interface JpegFrame {
  width: number;
  height: number;
  /** 1 grey, 3 YCbCr (or RGB), 4 CMYK or YCCK. */
  components: number;
  /** Progressive (SOF2, 6, 10, 14): libjpeg holds every coefficient of the image until its last scan. */
  progressive: boolean;
}

/**
 * The first start-of-frame header of a JPEG, found as libjpeg finds it (segments skipped by their
 * lengths, stray bytes between them skipped), or undefined when the image data (or the end of the
 * file) comes first: libjpeg then has no frame to decode either.
 */
function jpegFrame(bytes: Uint8Array): JpegFrame | undefined {
  let at = 2;
  while (at + 3 < bytes.length) {
    if (bytes[at] !== 0xff) {
      at += 1; // a stray byte between segments: libjpeg skips it too (with a warning)
      continue;
    }
    const marker = bytes[at + 1];
    if (marker === 0xff || marker === 0x00) {
      at += 1; // a fill byte, or a stuffed zero outside any segment
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a length
      continue;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (at + 9 >= bytes.length) return undefined;
      return {
        height: (bytes[at + 5] << 8) | bytes[at + 6],
        width: (bytes[at + 7] << 8) | bytes[at + 8],
        components: bytes[at + 9],
        progressive: (marker & 0x03) === 0x02,
      };
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // image data, or the end, before any frame header
    at += 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
  }
  return undefined;
}

/**
 * The file up to the end of its IEND chunk. Bytes after it are not part of the image: libpng and
 * PIL (a Python pipeline's reader) ignore them, pngjs refuses the file. Such files exist (a model
 * repository's own test digit ends with a stray zero byte).
 */
function throughIend(bytes: Uint8Array): Uint8Array {
  for (let at = 8; at + 12 <= bytes.length; at += 12 + u32(bytes, at)) {
    if (String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === 'IEND') return bytes.subarray(0, at + 12);
  }
  return bytes;
}

/**
 * The chunks whose CRC does not match their data, as libpng (TensorFlow's decode_png) judges them:
 * a critical one (IHDR, PLTE, IDAT, IEND) is an error, naming it; an ancillary one (gAMA, tRNS, a
 * text chunk) is a warning there and the chunk is discarded, so it is left out here too (pngjs
 * would refuse the file). The file must reach its IEND chunk (pngTruncation).
 */
function withoutDamagedAncillaryChunks(bytes: Uint8Array, where: string): Uint8Array {
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  let dropped = false;
  for (let at = 8; at < bytes.length; at += 12 + u32(bytes, at)) {
    const end = at + 12 + u32(bytes, at);
    if (crc32(bytes.subarray(at + 4, end - 4)) === u32(bytes, end - 4)) {
      kept.push(bytes.subarray(at, end));
      continue;
    }
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if ((bytes[at + 4] & 0x20) === 0) throw new BadRequestError(`${where}: corrupt PNG (CRC error in its ${type} chunk)`);
    dropped = true;
  }
  return dropped ? Buffer.concat(kept) : bytes;
}

/**
 * Why a PNG's chunks stop short of its IEND chunk ("truncated: ..."), or undefined when they reach
 * it. pngjs would only say "There are some read requests waitng on finished stream".
 */
function pngTruncation(bytes: Uint8Array): string | undefined {
  for (let at = 8; ; at += 12 + u32(bytes, at)) {
    if (at + 8 > bytes.length) return 'truncated: the file ends before its IEND chunk';
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + u32(bytes, at) > bytes.length) return `truncated: the file ends inside its ${/^[A-Za-z]{4}$/.test(type) ? type : 'last'} chunk`;
    if (type === 'IEND') return undefined;
  }
}

/** pngjs's own words for data that ended early (its sync reader's, misspelling included). */
const PNGJS_ENDED_EARLY = /read requests waitng on finished stream|unexpected end of file/i;

function decodePng(file: Uint8Array, where: string): DecodedImage {
  const truncated = pngTruncation(file);
  if (truncated) throw new BadRequestError(`${where}: corrupt PNG (${truncated})`);
  const bytes = withoutDamagedAncillaryChunks(throughIend(file), where);
  try {
    const png = readPng(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { width: png.width, height: png.height, rgba: new Uint8Array(png.rgba.buffer, png.rgba.byteOffset, png.rgba.byteLength) };
  } catch (error) {
    const message = (error as Error)?.message ?? String(error);
    const what = PNGJS_ENDED_EARLY.test(message) ? 'truncated: its image data ends early' : message;
    throw new BadRequestError(`${where}: corrupt PNG (${what})`, { cause: error });
  }
}

/** CMYK and YCCK JPEGs (Adobe's, from print workflows): jpeg-js turns them into RGB, libjpeg-turbo does not. */
function decodeCmykJpeg(bytes: Uint8Array, where: string): DecodedImage {
  try {
    const image = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: (MAX_IMAGE_SIDE * MAX_IMAGE_SIDE) / 1e6,
      maxMemoryUsageInMB: 512,
    });
    checkSize(image.width, image.height, where);
    if (image.data.length !== image.width * image.height * 4) throw new Error('decoder returned a short pixel buffer');
    return { width: image.width, height: image.height, rgba: image.data };
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    const message = (error as Error)?.message ?? String(error);
    if (/maxResolutionInMP|maxMemoryUsageInMB/.test(message)) {
      throw new BadRequestError(`${where}: JPEG is too large to decode (${message})`, { cause: error });
    }
    throw new BadRequestError(`${where}: corrupt JPEG (${message})`, { cause: error });
  }
}

/** A JPEG's frame header (read before anything is decoded). */
type JpegHeader = JpegFrame & { format: 'jpeg' };

function jpegHeader(bytes: Uint8Array, where: string): JpegHeader {
  const frame = jpegFrame(bytes);
  if (!frame) throw new BadRequestError(`${where}: corrupt JPEG (no frame header before its image data)`);
  checkSize(frame.width, frame.height, where);
  return { format: 'jpeg', ...frame };
}

function decodeJpeg(bytes: Uint8Array, frame: JpegHeader, where: string): DecodedImage {
  if (frame.components === 4) return decodeCmykJpeg(bytes, where);
  let image: DecodedImage;
  try {
    image = decodeJpegRgba(bytes);
  } catch (error) {
    if (!(error instanceof JpegDataError)) throw error; // the decoder itself failed: not the request's fault
    const what = error.truncated ? 'truncated: the file ends before its image data does' : error.message;
    throw new BadRequestError(`${where}: corrupt JPEG (${what})`, { cause: error });
  }
  checkSize(image.width, image.height, where);
  if (image.rgba.length !== image.width * image.height * 4) throw new BadRequestError(`${where}: corrupt JPEG (decoder returned a short pixel buffer)`);
  return image;
}

/** What an image file's header says: its format, its size (checked against the limit) and how it is stored. */
export type ImageHeader = PngHeader | JpegHeader;

/** The header of PNG or JPEG bytes, read without decoding a pixel: a 400 for anything else, or an image over the size limit. */
export function readImageHeader(bytes: Uint8Array, where: string): ImageHeader {
  if (startsWith(bytes, PNG_MAGIC)) return pngHeader(bytes, where);
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return jpegHeader(bytes, where);
  throw new BadRequestError(`${where}: not a PNG or JPEG image`);
}

/** PNG or JPEG bytes -> RGBA pixels (`header`: readImageHeader's, when the caller has read it already). */
export function decodeImage(bytes: Uint8Array, where: string, header = readImageHeader(bytes, where)): DecodedImage {
  return header.format === 'png' ? decodePng(bytes, where) : decodeJpeg(bytes, header, where);
}

/**
 * What decoding takes at its peak besides the file: the decoder's buffers and the RGBA pixels it
 * answers (4 bytes a pixel), counted as the decoders allocate them:
 * - pngRead.ts joins the IDAT chunks (the file's size) and inflates them (rows x rowBytes), pngjs
 *   unfilters them row by row into new rows and joins those (twice more), and maps them to RGBA
 *   (16-bit samples: a Uint16Array of 8 bytes a pixel, then the 8-bit copy); an interlaced file's
 *   data is a little larger (a filter byte and a part-filled byte for each row of each of its 7
 *   passes), counted generously as two copies more;
 * - libjpeg-turbo's wasm memory holds the RGBA pixels, every coefficient (2 bytes a sample) of a
 *   progressive file, and about 6 MB of its own (measured: 21.4 MB for a 2048 x 2048 baseline
 *   JPEG, 45.2 MB progressive), less what it has grown by for earlier JPEGs (jpeg.ts: its first
 *   16 MiB count as new, as little of them is touched before a large JPEG), and the pixels are
 *   copied out to JS;
 * - jpeg-js (CMYK) keeps each 8 x 8 block as an Int32Array (16 bytes a pixel for 4 components,
 *   their objects on top), each component's lines and the pixels twice: 40 bytes a pixel.
 */
export function decodingBytes(header: ImageHeader, fileBytes: number): number {
  const pixels = header.width * header.height;
  if (header.format === 'png') {
    const inflated = header.rowBytes * header.height;
    const rgba = header.depth === 16 ? pixels * 12 : pixels * 4;
    return fileBytes + (header.interlaced ? 2 * inflated : 0) + 3 * inflated + rgba;
  }
  if (header.components === 4) return pixels * 40;
  const decoder = pixels * 4 + (header.progressive ? pixels * header.components * 2 : 0) + JPEG_DECODER_OWN_BYTES;
  return Math.max(0, decoder - jpegDecoderGrownBytes()) + pixels * 4;
}

/** What libjpeg-turbo's wasm build takes beside pixels and coefficients (its code, stack, tables, row buffers). */
const JPEG_DECODER_OWN_BYTES = 6 * 2 ** 20;
