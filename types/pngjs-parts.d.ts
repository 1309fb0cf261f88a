/**
 * The parts of pngjs 7 that its PNG.sync.read joins (lib/parser-sync.js), for lib/inputs/image/pngRead.ts,
 * which joins them around an inflate of its own. The package types only its PNG class.
 */

declare module 'pngjs/lib/parser.js' {
  /** What the parser reports of IHDR, PLTE and tRNS, as the parts after it read it. */
  export interface PngjsMetadata {
    width: number;
    height: number;
    /** Bits per sample. */
    depth: number;
    interlace: boolean;
    /** true for a palette image until its PLTE chunk replaces it with the palette's RGBA entries. */
    palette: boolean | number[][];
    color: boolean;
    alpha: boolean;
    /** Samples per pixel. */
    bpp: number;
    colorType: number;
    transColor?: number[];
  }

  interface ParserCallbacks {
    read(length: number, callback: (data: Buffer) => void): void;
    error(error: Error): void;
    metadata(metadata: PngjsMetadata): void;
    gamma(gamma: number): void;
    palette(palette: number[][]): void;
    transColor(color: number[]): void;
    inflateData(compressed: Buffer): void;
    simpleTransparency(): void;
  }
  /** Reads a PNG's chunks (checking their CRCs) through `read`, reporting what they hold. */
  class Parser {
    constructor(options: { checkCRC?: boolean }, callbacks: ParserCallbacks);
    start(): void;
  }
  export default Parser;
}

declare module 'pngjs/lib/sync-reader.js' {
  /** Answers the parser's reads from one buffer. */
  class SyncReader {
    constructor(buffer: Buffer);
    read(length: number, callback: (data: Buffer) => void): void;
    /** Runs the reads; throws when one is left waiting or bytes are left over. */
    process(): void;
  }
  export default SyncReader;
}

declare module 'pngjs/lib/filter-parse-sync.js' {
  import type { PngjsMetadata } from 'pngjs/lib/parser.js';

  /** Inflated image data -> its rows unfiltered (each pass's, for an interlaced image). */
  export function process(inflated: Buffer, metadata: PngjsMetadata): Buffer;
}

declare module 'pngjs/lib/bitmapper.js' {
  import type { PngjsMetadata } from 'pngjs/lib/parser.js';

  /** Unfiltered rows -> 4 samples a pixel (a Uint16Array for 16-bit images). */
  export function dataToBitMap(unfiltered: Buffer, metadata: PngjsMetadata): Buffer | Uint16Array;
}

declare module 'pngjs/lib/format-normaliser.js' {
  import type { PngjsMetadata } from 'pngjs/lib/parser.js';

  /** 4 samples a pixel -> 8-bit RGBA: palette looked up, tRNS's colour made transparent, depth scaled to 8 bits. */
  export default function normalise(bitmap: Buffer | Uint16Array, metadata: PngjsMetadata, skipRescale?: boolean): Buffer;
}

declare module 'pngjs/lib/interlace.js' {
  /** The Adam7 passes of a width x height image that hold any pixels. */
  export function getImagePasses(width: number, height: number): { width: number; height: number; index: number }[];
}
