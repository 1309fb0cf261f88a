/**
 * PNG file -> RGBA with pngjs's own parts (its chunk parser, unfilter, bitmapper and normaliser, joined
 * as its PNG.sync.read joins them), around an inflate of our own. pngjs's sync inflate (7.0.0,
 * lib/sync-inflate.js) reads Node's zlib state the wrong way round ([availOut, availIn] taken for
 * [availIn, availOut]), so it answers the whole Buffer.allocUnsafe(rows x rowBytes) it inflated into,
 * however little the stream held: a PNG whose data was short was unfiltered from stale process memory,
 * a different answer each time (a filter type made of a stale byte, or a 200 with pixels nobody sent).
 * Here the data is inflated by Node no further than the header's size, and must fill it; a stream
 * longer than its rows gives its rows, as libpng gives them.
 */
import { constants, inflateSync } from 'node:zlib';
import { Unzlib } from 'fflate';
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

/** Compressed bytes handed to the fallback inflater at a time: at most about 1,032 times as many come out of each. */
const SLICE_BYTES = 4096;

/**
 * The IDAT chunks' data inflated, exactly `size` bytes of it, as libpng reads it (TensorFlow's
 * decode_png, the pipeline a Node user of the model runs): the stream must reach its end within the
 * rows (a stream that stops early, even only short of its Adler-32, is "Not enough image data" to
 * libpng), and data past the rows is read no further ("Too much image data", a warning: the rows
 * decode). Inflating no further than `size` is what keeps a small file from inflating to gigabytes.
 */
function inflateData(compressed: Buffer, size: number): Buffer {
  let data: Buffer;
  try {
    data = inflateSync(compressed, { maxOutputLength: size });
  } catch (error) {
    if (error instanceof RangeError) return firstBytes(compressed, size);
    if ((error as { code?: string }).code !== 'Z_BUF_ERROR') throw new Error(`bad compressed data: ${(error as Error).message}`, { cause: error });
    // The stream stops early: count what it holds, for the message.
    const held = inflateSync(compressed, { maxOutputLength: size, finishFlush: constants.Z_SYNC_FLUSH }).length;
    throw new Error(held < size ? `truncated: its image data holds ${held} of ${size} bytes` : 'truncated: its compressed data stops before its end', { cause: error });
  }
  if (data.length < size) throw new Error(`truncated: its image data holds ${data.length} of ${size} bytes`);
  return data;
}

/**
 * The first `size` bytes of a stream that inflates to more (Node's inflate can only refuse it whole):
 * fed to fflate's streaming inflate a slice at a time, and left as soon as the rows are filled, so a
 * stream of gigabytes costs no more than its rows and one slice. Node's refused attempt leaves up to
 * `size` bytes as garbage beside them: decode.ts's decodingBytes, counted above the measured peak
 * (workingMemory.ts), covers it.
 */
function firstBytes(compressed: Buffer, size: number): Buffer {
  const rows = Buffer.alloc(size);
  let filled = 0;
  const stream = new Unzlib((chunk) => {
    const taken = Math.min(chunk.length, size - filled);
    rows.set(chunk.subarray(0, taken), filled);
    filled += taken;
  });
  try {
    for (let at = 0; filled < size && at < compressed.length; at += SLICE_BYTES) stream.push(compressed.subarray(at, at + SLICE_BYTES));
  } catch (error) {
    if (filled < size) throw new Error(`bad compressed data: ${(error as Error).message}`, { cause: error });
  }
  return rows;
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
  try {
    reader.process();
  } catch (error) {
    // A chunk the parser refused (a CRC error, an unknown critical chunk) stops its reads, and the
    // reader then finds bytes left over: the parser's reason is the one to give.
    throw failure ?? error;
  }
  if (failure) throw failure;
  if (!png) throw new Error('no IHDR header');
  const inflated = inflateData(Buffer.concat(compressed), inflatedBytes(png));
  compressed.length = 0;
  const rgba = normalise(dataToBitMap(unfilter(inflated, png), png), png);
  return { width: png.width, height: png.height, rgba };
}
