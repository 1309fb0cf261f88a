/**
 * PNG file -> RGBA with pngjs's own parts (its chunk parser, unfilter, bitmapper and normaliser, joined
 * as its PNG.sync.read joins them), around an inflate of our own. pngjs's sync inflate (7.0.0,
 * lib/sync-inflate.js) reads Node's zlib state the wrong way round ([availOut, availIn] taken for
 * [availIn, availOut]), so it answers the whole Buffer.allocUnsafe(rows x rowBytes) it inflated into,
 * however little the stream held: a PNG whose data was short was unfiltered from stale process memory,
 * a different answer each time (a filter type made of a stale byte, or a 200 with pixels nobody sent).
 * Here the data is inflated once, by Node, no further than the header's size, and must fill it.
 */
import { constants, inflateSync } from 'node:zlib';
import { dataToBitMap } from 'pngjs/lib/bitmapper.js';
import { process as unfilter } from 'pngjs/lib/filter-parse-sync.js';
import normalise from 'pngjs/lib/format-normaliser.js';
import { getImagePasses } from 'pngjs/lib/interlace.js';
import Parser, { type PngjsMetadata } from 'pngjs/lib/parser.js';
import SyncReader from 'pngjs/lib/sync-reader.js';

/** Bytes the image data inflates to: every row (of every Adam7 pass, when interlaced) and its filter byte. */
function inflatedBytes(png: PngjsMetadata): number {
  const passes = png.interlace ? getImagePasses(png.width, png.height) : [png];
  return passes.reduce((sum, pass) => sum + (Math.ceil((pass.width * png.bpp * png.depth) / 8) + 1) * pass.height, 0);
}

/**
 * The IDAT chunks' data inflated, exactly `size` bytes of it. Inflating no further than that is what
 * keeps a small file from inflating to gigabytes. A stream that stops early is counted, not refused
 * by zlib ("unexpected end of file"): its rows are what is missing. Bytes after the rows (libpng
 * warns "Too much image data") are refused, as pngjs refused them.
 */
function inflateData(compressed: Buffer, size: number): Buffer {
  let data: Buffer;
  try {
    data = inflateSync(compressed, { maxOutputLength: size, finishFlush: constants.Z_SYNC_FLUSH });
  } catch (error) {
    throw new Error(error instanceof RangeError ? 'image data larger than its declared size' : 'bad compressed data', { cause: error });
  }
  if (data.length < size) throw new Error(`truncated: its image data holds ${data.length} of ${size} bytes`);
  return data;
}

/** A PNG file (through its IEND chunk) -> its size and RGBA pixels; pngjs's errors are thrown as pngjs throws them. */
export function readPng(file: Buffer): { width: number; height: number; rgba: Buffer } {
  let failure: Error | undefined;
  let png: PngjsMetadata | undefined;
  const compressed: Buffer[] = [];
  const reader = new SyncReader(file);
  const parser = new Parser(
    {},
    {
      read: reader.read.bind(reader),
      error: (error) => {
        failure = error;
      },
      metadata: (metadata) => {
        png = metadata;
      },
      gamma: () => undefined, // pngjs reports gAMA and leaves the samples as they are; so do we
      palette: (palette) => {
        if (png) png.palette = palette;
      },
      transColor: (color) => {
        if (png) png.transColor = color;
      },
      simpleTransparency: () => {
        if (png) png.alpha = true;
      },
      inflateData: (data) => compressed.push(data),
    },
  );
  parser.start();
  reader.process();
  if (failure) throw failure;
  if (!png) throw new Error('no IHDR header');
  const inflated = inflateData(Buffer.concat(compressed), inflatedBytes(png));
  compressed.length = 0;
  const rgba = normalise(dataToBitMap(unfilter(inflated, png), png), png);
  return { width: png.width, height: png.height, rgba };
}
