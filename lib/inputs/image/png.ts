/** PNG writers (pngjs), for explanation heatmaps and overlays. */
import { PNG } from 'pngjs';

/** RGBA bytes (width * height * 4) -> PNG file bytes. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng: bad size ${width}x${height}`);
  }
  if (rgba.length !== width * height * 4) throw new RangeError(`encodePng: expected ${width * height * 4} RGBA bytes, got ${rgba.length}`);
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}

/** Grey values in 0..1 (clamped; NaN -> 0), row-major, one per pixel -> opaque greyscale PNG. */
export function encodePngGray(values: Float32Array | number[], width: number, height: number): Uint8Array {
  if (values.length !== width * height) throw new RangeError(`encodePngGray: expected ${width * height} values, got ${values.length}`);
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const g = Number.isNaN(v) ? 0 : Math.round(Math.min(1, Math.max(0, v)) * 255);
    rgba[i * 4] = g;
    rgba[i * 4 + 1] = g;
    rgba[i * 4 + 2] = g;
    rgba[i * 4 + 3] = 255;
  }
  return encodePng(rgba, width, height);
}
