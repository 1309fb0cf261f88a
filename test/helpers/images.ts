/** Images painted pixel by pixel, encoded as PNG or JPEG, for the image tests. */
import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export type Rgba = [number, number, number, number];
export type Painter = (x: number, y: number) => Rgba;

export const gray =
  (f: (x: number, y: number) => number): Painter =>
  (x, y) => {
    const v = f(x, y);
    return [v, v, v, 255];
  };

export function pixels(width: number, height: number, paint: Painter): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(paint(x, y), (y * width + x) * 4);
  return data;
}

export function pngBytes(width: number, height: number, paint: Painter, colorType: 0 | 2 | 4 | 6 = 6): Buffer {
  const png = new PNG({ width, height, colorType, inputColorType: 6 } as ConstructorParameters<typeof PNG>[0]);
  png.data = pixels(width, height, paint);
  return PNG.sync.write(png, { colorType, inputColorType: 6 } as Parameters<typeof PNG.sync.write>[1]);
}

export const jpegBytes = (width: number, height: number, paint: Painter, quality = 100): Buffer => jpeg.encode({ width, height, data: pixels(width, height, paint) }, quality).data;

export const b64 = (bytes: Uint8Array) => ({ b64: Buffer.from(bytes).toString('base64') });

/** A PNG chunk: its length, type, data and CRC. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/**
 * A PNG whose image data is exactly `data` (filter bytes included, deflated as one IDAT), whatever
 * its header says: for files whose data does not match their size, which no encoder writes.
 * `alterStream` changes the zlib stream (its Adler-32, its end) before it is put in the IDAT chunk;
 * `before`: chunks between IHDR and IDAT (PLTE, tRNS).
 */
export function pngWithData(
  width: number,
  height: number,
  data: Uint8Array,
  { depth = 8, colorType = 0, interlaced = false, alterStream = (deflated: Buffer) => deflated, before = [] as Buffer[] } = {},
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([depth, colorType, 0, 0, interlaced ? 1 : 0], 8);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), ...before, pngChunk('IDAT', alterStream(deflateSync(data))), pngChunk('IEND', new Uint8Array(0))]);
}
