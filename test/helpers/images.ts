/** Images painted pixel by pixel, encoded as PNG or JPEG, for the image tests. */
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
