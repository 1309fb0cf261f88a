/**
 * JPEGs decode to libjpeg-turbo's pixels: what browsers, TensorFlow's decode_jpeg, PIL and ImageMagick
 * give, and so what a model's own pipeline saw. The reference is @cwasm/jpeg-turbo, a separate wasm
 * build of upstream libjpeg-turbo (TurboJPEG, default flags: fancy upsampling, accurate IDCT); the
 * service decodes with mozjpeg's build of the same decompressor (@jsquash/jpeg), so the two must agree
 * exactly. jpeg-js, the decoder before, was up to 34 levels off on these photos.
 *
 * Fixtures in test/fixtures/jpeg/, made with ImageMagick 6.9 (libjpeg-turbo 2.1) from
 * node_modules/@vladmandic/face-api/demo/ (commands in the names: see the it.each below):
 *   convert sample1.jpg -resize 400x -sampling-factor 2x2 -interlace JPEG -quality 85 progressive-420.jpg
 *   convert sample2.jpg -resize 320x -colorspace Gray -quality 90 grey.jpg
 *   convert sample5.jpg -crop 257x193+300+300 +repage -sampling-factor 2x2 -quality 75 odd-size-420.jpg
 *   convert sample4.jpg -crop 200x150+500+400 +repage -sampling-factor 1x1 -quality 95 444.jpg
 *   convert sample3.jpg -resize 240x -colorspace CMYK -quality 90 cmyk.jpg
 *   convert sample3.jpg -resize 240x -quality 90 cmyk-source-rgb.jpg
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decode as referenceDecode } from '@cwasm/jpeg-turbo';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { decodeImage } from '../../lib/inputs/image/decode.js';
import { pngChunk, pngWithData } from '../helpers/images.js';

const PHOTO_DIR = path.resolve('node_modules/@vladmandic/face-api/demo');
const FIXTURES = path.resolve('test/fixtures/jpeg');
const photos = readdirSync(PHOTO_DIR)
  .filter((f) => f.endsWith('.jpg'))
  .sort();
const read = (file: string) => new Uint8Array(readFileSync(file));

/** Largest and mean absolute difference over the RGB channels of two RGBA images of one size. */
function difference(a: Uint8Array | Uint8ClampedArray, b: Uint8Array | Uint8ClampedArray): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / ((a.length / 4) * 3) };
}

function badRequest(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    return error as Error;
  }
  throw new Error('expected a BadRequestError');
}

describe('JPEG decoding equals libjpeg-turbo', () => {
  it('has photos to check', () => expect(photos.length).toBeGreaterThanOrEqual(6));

  it.each(photos)('%s (a 1920-pixel 4:2:2 photo) decodes to exactly libjpeg-turbo pixels', (file) => {
    const bytes = read(path.join(PHOTO_DIR, file));
    const ours = decodeImage(bytes, 'photo');
    const reference = referenceDecode(bytes);
    expect([ours.width, ours.height]).toEqual([reference.width, reference.height]);
    expect(difference(ours.rgba, reference.data)).toEqual({ max: 0, mean: 0 });
  });

  it.each(['progressive-420.jpg', 'grey.jpg', 'odd-size-420.jpg', '444.jpg'])('%s decodes to exactly libjpeg-turbo pixels', (file) => {
    const bytes = read(path.join(FIXTURES, file));
    const ours = decodeImage(bytes, 'photo');
    const reference = referenceDecode(bytes);
    expect([ours.width, ours.height]).toEqual([reference.width, reference.height]);
    expect(difference(ours.rgba, reference.data)).toEqual({ max: 0, mean: 0 });
  });

  it('the old decoder (jpeg-js, chroma replicated) is visibly off on the same photo, so the check above can tell', () => {
    const bytes = read(path.join(PHOTO_DIR, photos[0]));
    const old = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    expect(difference(old.data, referenceDecode(bytes).data).max).toBeGreaterThan(10);
  });

  it('a CMYK JPEG (which libjpeg-turbo does not turn into RGB) still decodes, as before, close to its RGB source', () => {
    const cmyk = decodeImage(read(path.join(FIXTURES, 'cmyk.jpg')), 'photo');
    const rgb = referenceDecode(read(path.join(FIXTURES, 'cmyk-source-rgb.jpg')));
    expect([cmyk.width, cmyk.height]).toEqual([rgb.width, rgb.height]);
    expect(difference(cmyk.rgba, rgb.data).mean).toBeLessThan(6); // both are quality-90 JPEGs of one picture
    const old = jpeg.decode(read(path.join(FIXTURES, 'cmyk.jpg')), { useTArray: true, formatAsRGBA: true });
    expect(difference(cmyk.rgba, old.data).max).toBe(0);
  });
});

describe('JPEG errors', () => {
  const good = read(path.join(FIXTURES, '444.jpg'));
  const sof = Buffer.from(good).indexOf(Buffer.from([0xff, 0xc0]));
  /** The same file with 12-bit samples declared in its frame header: libjpeg refuses it. */
  const twelveBit = Uint8Array.from(good, (b, i) => (i === sof + 4 ? 12 : b));

  it('a JPEG cut short is refused as truncated, not decoded with grey where the data stopped', () => {
    const message = badRequest(() => decodeImage(good.subarray(0, good.length - 3000), 'instances[0]')).message;
    expect(message).toBe('instances[0]: corrupt JPEG (truncated: the file ends before its image data does)');
  });

  it("libjpeg's refusal is the message, without the wasm program's exit", () => {
    const message = badRequest(() => decodeImage(twelveBit, 'instances[0]')).message;
    expect(message).toBe('instances[0]: corrupt JPEG (Unsupported JPEG data precision 12)');
  });

  it('the decoder answers good JPEGs exactly after hundreds of refused ones (each refusal starts it afresh)', () => {
    const before = decodeImage(good, 'x').rgba.slice();
    for (let i = 0; i < 150; i++) badRequest(() => decodeImage(twelveBit, 'x'));
    expect(difference(decodeImage(good, 'x').rgba, before).max).toBe(0);
  });

  it('the size limit is read from the frame header before decoding, even behind stray bytes libjpeg would skip', () => {
    const huge = Buffer.from(good);
    huge.writeUInt16BE(30000, sof + 5);
    huge.writeUInt16BE(30000, sof + 7);
    const stray = Buffer.concat([huge.subarray(0, sof), Buffer.from([1, 2, 3]), huge.subarray(sof)]);
    for (const bytes of [huge, stray]) {
      expect(badRequest(() => decodeImage(bytes, 'instances[0]')).message).toMatch(/^instances\[0\]: image is 30000x30000, larger than the 2048x2048 limit/);
    }
  });

  it('a JPEG without a frame header is refused before decoding', () => {
    expect(badRequest(() => decodeImage(good.subarray(0, sof), 'instances[0]')).message).toBe('instances[0]: corrupt JPEG (no frame header before its image data)');
  });
});

describe('PNG data, read as libpng reads it', () => {
  const seven = read(path.resolve('examples/seven.png'));

  it.each([
    [150, 'instances[0]: corrupt PNG (truncated: the file ends inside its IDAT chunk)'],
    [seven.length - 2, 'instances[0]: corrupt PNG (truncated: the file ends inside its IEND chunk)'],
    [seven.length - 12, 'instances[0]: corrupt PNG (truncated: the file ends before its IEND chunk)'],
  ])('the first %d bytes of examples/seven.png say the PNG is truncated, in our words', (length, expected) => {
    const message = badRequest(() => decodeImage(seven.subarray(0, length), 'instances[0]')).message;
    expect(message).toBe(expected);
    expect(message).not.toMatch(/waitng|stream/);
  });

  /** The filtered rows of a 28 x 28 8-bit grey digit (filter byte 0, then 28 samples), the first `rows` of them. */
  const digitRows = (rows: number) => Uint8Array.from({ length: rows * 29 }, (_, i) => (i % 29 === 0 ? 0 : i % 29 > 10 && i % 29 < 17 ? 255 : 0));

  it('a PNG whose image data inflates to 1 of its 28 rows is refused the same way every time (it was unfiltered from stale memory)', () => {
    const oneRow = pngWithData(28, 28, digitRows(1).fill(0));
    const messages = new Set(Array.from({ length: 20 }, () => badRequest(() => decodeImage(oneRow, 'instances[0]')).message));
    expect([...messages]).toEqual(['instances[0]: corrupt PNG (truncated: its image data holds 29 of 812 bytes)']);
  });

  it.each([false, true])('no PNG with fewer rows of data than its header says decodes (interlaced: %s)', (interlaced) => {
    for (let rows = 0; rows < 28; rows++) {
      const message = badRequest(() => decodeImage(pngWithData(28, 28, digitRows(rows), { interlaced }), 'instances[0]')).message;
      expect(message).toMatch(new RegExp(`^instances\\[0\\]: corrupt PNG \\(truncated: its image data holds ${rows * 29} of ${interlaced ? 837 : 812} bytes\\)$`));
    }
  });

  // What libpng answers, read with a program that decodes as TensorFlow's png_io.cc does (libpng
  // 1.6.39's defaults): "Too much image data" is a warning and the rows decode; a stream that
  // stops at its rows without its end is "Not enough image data", a bad Adler-32 "incorrect data
  // check", a bad CRC on IDAT "CRC error": errors.
  it('a PNG whose data fills its rows decodes; data beyond them is left unread, as libpng leaves it', () => {
    const digit = decodeImage(pngWithData(28, 28, digitRows(28)), 'x');
    expect(Array.from(digit.rgba.subarray((5 * 28 + 11) * 4, (5 * 28 + 11) * 4 + 4))).toEqual([255, 255, 255, 255]);
    for (const extra of [1, 29, 100_000]) {
      const longer = decodeImage(pngWithData(28, 28, Uint8Array.from([...digitRows(28), ...new Uint8Array(extra).fill(7)])), 'x');
      expect(Buffer.from(longer.rgba).equals(Buffer.from(digit.rgba))).toBe(true);
    }
  });

  it('an interlaced 2048 x 2048 PNG whose 100 KB of data would inflate to 100 MB, 96 more than its rows, decodes its rows (libpng: "Too much image data", a warning)', () => {
    // Its rows come from a streaming inflate left as soon as they are filled (pngRead.ts), not from
    // inflating the 100 MB.
    const bomb = pngWithData(2048, 2048, new Uint8Array(100 * 1024 * 1024).fill(0x40, 50 * 1024 * 1024), { interlaced: true });
    expect(bomb.length).toBeLessThan(200_000);
    const image = decodeImage(bomb, 'instances[0]');
    expect([image.width, image.height]).toEqual([2048, 2048]);
    expect(new Set(new Uint32Array(image.rgba.buffer, image.rgba.byteOffset, image.rgba.length / 4))).toEqual(new Set([0xff000000]));
  });

  it.each([
    ['whose stream stops at its rows, without its end', (z: Buffer) => z.subarray(0, -4), 'truncated: its compressed data stops before its end'],
    ['whose Adler-32 is wrong', (z: Buffer) => Buffer.concat([z.subarray(0, -4), Buffer.from([1, 2, 3, 4])]), 'bad compressed data: incorrect data check'],
  ])('a PNG %s is refused, as libpng refuses it', (_, alterStream, reason) => {
    const message = badRequest(() => decodeImage(pngWithData(28, 28, digitRows(28), { alterStream }), 'instances[0]')).message;
    expect(message).toBe(`instances[0]: corrupt PNG (${reason})`);
  });

  it('a PNG whose IDAT fails its CRC is refused for that, not for the bytes the parser then left', () => {
    const file = pngWithData(28, 28, digitRows(28));
    file[file.length - 13] ^= 1; // the IDAT chunk's CRC ends where the 12-byte IEND chunk begins
    expect(badRequest(() => decodeImage(file, 'instances[0]')).message).toBe('instances[0]: corrupt PNG (CRC error in its IDAT chunk)');
  });

  it('an ancillary chunk that fails its CRC is left out, as libpng discards it with a warning; a critical one is refused', () => {
    // A palette image with a tRNS chunk (libpng 1.6.39 as png_io.cc drives it: "tRNS: CRC error", a
    // warning, the same pixels; "PLTE: CRC error", an error).
    const palette = pngChunk('PLTE', Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255]));
    const transparency = pngChunk('tRNS', Uint8Array.from([0, 128, 255]));
    const rows = Uint8Array.from({ length: 3 * 5 }, (_, i) => (i % 5 === 0 ? 0 : (i % 5) % 3));
    const file = (...chunks: Buffer[]) => pngWithData(4, 3, rows, { depth: 8, colorType: 3, before: chunks });
    const damaged = (chunk: Buffer) => Buffer.concat([chunk.subarray(0, -1), Buffer.from([chunk[chunk.length - 1] ^ 1])]);
    const opaque = decodeImage(file(palette), 'x');
    expect(Buffer.from(decodeImage(file(palette, damaged(transparency)), 'x').rgba).equals(Buffer.from(opaque.rgba))).toBe(true);
    expect(Buffer.from(decodeImage(file(palette, transparency), 'x').rgba).equals(Buffer.from(opaque.rgba))).toBe(false);
    expect(badRequest(() => decodeImage(file(damaged(palette), transparency), 'instances[0]')).message).toBe('instances[0]: corrupt PNG (CRC error in its PLTE chunk)');
  });
});
