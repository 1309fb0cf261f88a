import { beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { encodeImages, imageKind, type ImageSettings as ImageTransform, type SizedImageSettings } from '../../lib/inputs/image.js';
import { decodeImage, imageBytesOf, isImageInstance } from '../../lib/inputs/image/decode.js';
import { encodePng, encodePngGray } from '../../lib/inputs/image/png.js';
import { areaResize as resize, type Plane } from '../../lib/inputs/image/areaResize.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { b64, gray, jpegBytes, pixels, pngBytes, type Rgba } from '../helpers/images.js';

const imageTransform = imageKind.schema;

const transform = (fields: Partial<ImageTransform> = {}): SizedImageSettings =>
  imageTransform.parse({ kind: 'image', width: 28, height: 28, channels: 1, ...fields }) as SizedImageSettings;

/** Value at (x, y, channel) of row `n` of an NHWC output. */
const at = (t: SizedImageSettings, out: Float32Array, x: number, y: number, ch = 0, n = 0) => out[n * t.width * t.height * t.channels + (y * t.width + x) * t.channels + ch];

async function badRequest(fn: () => Promise<unknown>): Promise<BadRequestError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    return error as BadRequestError;
  }
  throw new Error('expected a BadRequestError');
}

const gradient = (x: number, y: number) => (x * 9 + y * 3) % 256;

beforeAll(async () => {
  await initBackend(); // image kinds resample with TF.js ops
});

describe('schema', () => {
  it('defaults invert to never and fit to stretch', () => {
    const t = transform();
    expect([t.invert, t.fit, t.scale, t.offset]).toEqual(['never', 'stretch', 1 / 255, 0]);
  });

  it.each([{ invert: 'sometimes' }, { fit: 'crop' }])('rejects %o', async (extra) => {
    expect(imageTransform.safeParse({ kind: 'image', width: 28, height: 28, channels: 1, ...extra }).success).toBe(false);
  });
});

describe('isImageInstance', () => {
  it.each([
    [{ b64: 'AAAA' }, true],
    [{ image: { b64: 'AAAA' } }, true],
    [{ b64: 1 }, false],
    [{ image: 'AAAA' }, false],
    ['AAAA', false],
    [null, false],
    [[{ b64: 'AAAA' }], false],
    [{ text: 'hi' }, false],
  ])('%o -> %s', (value, expected) => {
    expect(isImageInstance(value)).toBe(expected);
  });
});

describe('imageBytesOf', () => {
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0xfb, 0xff]);
  const base64 = Buffer.from(bytes).toString('base64');
  it.each([
    ['{"b64"}', { b64: base64 }],
    ['{"image": {"b64"}}', { image: { b64: base64 } }],
    ['plain string', base64],
    ['data URL', `data:image/png;base64,${base64}`],
    ['base64url', Buffer.from(bytes).toString('base64url')],
    ['with line breaks', `${base64.slice(0, 4)}\n${base64.slice(4)}`],
  ])('accepts %s', (_name, value) => {
    expect(Array.from(imageBytesOf(value, 'instances[0]'))).toEqual(Array.from(bytes));
  });
});

describe('PNG and JPEG round trips', () => {
  it.each([
    ['RGBA', 6],
    ['RGB', 2],
    ['grey', 0],
    ['grey + alpha', 4],
  ] as const)('a 28x28 %s gradient PNG decodes to exactly its grey values', async (_name, colorType) => {
    const t = transform();
    const out = await encodeImages(t, [b64(pngBytes(28, 28, gray(gradient), colorType))]);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) expect(at(t, out, x, y)).toBeCloseTo(gradient(x, y) / 255, 6);
  });

  it.each([
    [1 / 255, 0],
    [2 / 255, -1],
    [1, 0],
    [-1 / 127.5, 1],
  ])('applies scale %d and offset %d', async (scale, offset) => {
    const t = transform({ scale, offset });
    const out = await encodeImages(t, [b64(pngBytes(28, 28, gray(gradient)))]);
    for (let y = 0; y < 28; y += 5) for (let x = 0; x < 28; x += 3) expect(at(t, out, x, y)).toBeCloseTo(gradient(x, y) * scale + offset, 4);
  });

  it.each([100, 90])('a JPEG (quality %d) decodes within a tolerance', async (quality) => {
    const t = transform();
    const smooth = (x: number, y: number) => Math.round((x + y) * (255 / 54));
    const out = await encodeImages(t, [b64(jpegBytes(28, 28, gray(smooth), quality))]);
    let worst = 0;
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) worst = Math.max(worst, Math.abs(at(t, out, x, y) - smooth(x, y) / 255));
    expect(worst).toBeLessThan(quality === 100 ? 4 / 255 : 10 / 255);
  });

  it('decodeImage returns RGBA of the declared size', async () => {
    const image = decodeImage(
      pngBytes(5, 3, () => [10, 20, 30, 40]),
      'x',
    );
    expect([image.width, image.height, image.rgba.length]).toEqual([5, 3, 60]);
    expect(Array.from(image.rgba.subarray(0, 4))).toEqual([10, 20, 30, 40]);
  });

  it('reads a PNG with bytes after its IEND chunk as libpng and PIL do: the same pixels', () => {
    const png = pngBytes(6, 4, (x, y) => [x * 40, y * 60, 7, 255]);
    const trailing = new Uint8Array([...png, 0, 0x49, 0x45]);
    expect(Array.from(decodeImage(trailing, 'x').rgba)).toEqual(Array.from(decodeImage(png, 'x').rgba));
  });
});

describe('channels', () => {
  it.each([
    [1, 1],
    [1, 3],
    [3, 1],
    [3, 3],
  ] as const)('%d image(s) with %d channel(s) -> n*h*w*c values', async (n, channels) => {
    const t = transform({ channels, width: 10, height: 7 });
    const values = Array.from({ length: n }, () => b64(pngBytes(20, 20, () => [255, 0, 0, 255])));
    expect(await encodeImages(t, values)).toHaveLength(n * 7 * 10 * channels);
  });

  it('RGB keeps the colours; grey is their luminance', async () => {
    const red = b64(pngBytes(4, 4, () => [255, 0, 0, 255]));
    const rgb = transform({ channels: 3, width: 4, height: 4 });
    const rgbOut = await encodeImages(rgb, [red]);
    expect([0, 1, 2].map((ch) => at(rgb, rgbOut, 2, 2, ch))).toEqual([1, 0, 0]);
    const grey = transform({ width: 4, height: 4 });
    expect(at(grey, await encodeImages(grey, [red]), 1, 1)).toBeCloseTo(0.299, 6);
  });

  it('rows are concatenated in order', async () => {
    const t = transform({ width: 2, height: 2 });
    const out = await encodeImages(
      t,
      [0, 128, 255].map((v) =>
        b64(
          pngBytes(
            2,
            2,
            gray(() => v),
          ),
        ),
      ),
    );
    expect(Array.from(out).map((v) => Math.round(v * 255))).toEqual([0, 0, 0, 0, 128, 128, 128, 128, 255, 255, 255, 255]);
  });
});

describe('resize', () => {
  const constant = (width: number, height: number, channels: number, value: number): Plane => ({
    width,
    height,
    channels,
    data: new Float32Array(width * height * channels).fill(value),
  });

  it.each([
    [50, 37, 28, 28, 1],
    [10, 7, 28, 28, 1],
    [28, 28, 13, 40, 3],
    [1, 1, 5, 5, 3],
    [300, 2, 28, 28, 1],
  ])('a constant %dx%d image resized to %dx%d stays constant', async (w, h, tw, th, c) => {
    const out = resize(constant(w, h, c, 173), tw, th);
    expect(out.data).toHaveLength(tw * th * c);
    for (const v of out.data) expect(v).toBeCloseTo(173, 3);
  });

  it.each([
    [56, 28],
    [14, 28],
    [112, 28],
  ])('left half white, right half black: %d -> %d keeps the halves', async (size, target) => {
    const t = transform({ width: target, height: target });
    const out = await encodeImages(t, [
      b64(
        pngBytes(
          size,
          size,
          gray((x) => (x < size / 2 ? 255 : 0)),
        ),
      ),
    ]);
    for (let y = 0; y < target; y++) {
      for (let x = 0; x < target / 2 - 1; x++) expect(at(t, out, x, y)).toBeCloseTo(1, 5);
      for (let x = target / 2 + 1; x < target; x++) expect(at(t, out, x, y)).toBeCloseTo(0, 5);
    }
  });

  it('area averaging keeps a 1 px stroke when shrinking 4x (bilinear taps could miss it)', async () => {
    const t = transform({ resize: 'area' });
    const out = await encodeImages(t, [
      b64(
        pngBytes(
          112,
          112,
          gray((x) => (x % 4 === 1 ? 255 : 0)),
        ),
      ),
    ]);
    for (let x = 0; x < 28; x++) expect(at(t, out, x, 10)).toBeCloseTo(0.25, 5);
  });
});

describe('invert', () => {
  const blackOnWhite = b64(
    pngBytes(
      28,
      28,
      gray((x, y) => (Math.abs(x - 14) < 2 && y > 4 && y < 24 ? 0 : 255)),
    ),
  );
  const whiteOnBlack = b64(
    pngBytes(
      28,
      28,
      gray((x, y) => (Math.abs(x - 14) < 2 && y > 4 && y < 24 ? 255 : 0)),
    ),
  );

  it.each([
    ['auto', blackOnWhite, 0, 1],
    ['auto', whiteOnBlack, 0, 1],
    ['always', blackOnWhite, 0, 1],
    ['always', whiteOnBlack, 1, 0],
    ['never', blackOnWhite, 1, 0],
    ['never', whiteOnBlack, 0, 1],
  ] as const)('invert %s: background %d... -> background %d, stroke %d', async (invert, value, background, stroke) => {
    const t = transform({ invert });
    const out = await encodeImages(t, [value]);
    expect(at(t, out, 0, 0)).toBeCloseTo(background, 6);
    expect(at(t, out, 27, 27)).toBeCloseTo(background, 6);
    expect(at(t, out, 14, 14)).toBeCloseTo(stroke, 6);
  });

  it('auto decides on the border, not the amount of ink', async () => {
    // A large dark blob (most pixels dark) on a white frame is still a drawing on a white canvas.
    const t = transform({ invert: 'auto' });
    const out = await encodeImages(t, [
      b64(
        pngBytes(
          28,
          28,
          gray((x, y) => (x > 2 && x < 25 && y > 2 && y < 25 ? 0 : 255)),
        ),
      ),
    ]);
    expect(at(t, out, 0, 0)).toBeCloseTo(0, 6);
    expect(at(t, out, 14, 14)).toBeCloseTo(1, 6);
  });
});

describe("fit: 'mnist'", () => {
  function stats(t: SizedImageSettings, out: Float32Array) {
    let total = 0;
    let sx = 0;
    let sy = 0;
    let x0 = Infinity;
    let x1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    for (let y = 0; y < t.height; y++) {
      for (let x = 0; x < t.width; x++) {
        const v = at(t, out, x, y);
        total += v;
        sx += v * (x + 0.5);
        sy += v * (y + 0.5);
        if (v > 0.2) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        }
      }
    }
    return { cx: sx / total, cy: sy / total, w: x1 - x0 + 1, h: y1 - y0 + 1 };
  }

  it.each([
    ['a small off-centre blob', 60, 60, (x: number, y: number) => x >= 5 && x < 13 && y >= 8 && y < 20],
    ['a wide bar in a corner', 100, 80, (x: number, y: number) => x >= 60 && x < 96 && y >= 2 && y < 12],
    ['an L shape (centre of mass off the box centre)', 40, 40, (x: number, y: number) => (x >= 30 && x < 32 && y >= 20 && y < 38) || (y >= 36 && y < 38 && x >= 30 && x < 39)],
  ])('centres %s by centre of mass, longer side ~20 px', async (_name, w, h, inside) => {
    const t = transform({ fit: 'mnist' });
    const out = await encodeImages(t, [
      b64(
        pngBytes(
          w,
          h,
          gray((x, y) => (inside(x, y) ? 255 : 0)),
        ),
      ),
    ]);
    const s = stats(t, out);
    expect(Math.abs(s.cx - 14)).toBeLessThanOrEqual(1);
    expect(Math.abs(s.cy - 14)).toBeLessThanOrEqual(1);
    expect(Math.max(s.w, s.h)).toBeGreaterThanOrEqual(19);
    expect(Math.max(s.w, s.h)).toBeLessThanOrEqual(21);
  });

  it('keeps the aspect ratio', async () => {
    const t = transform({ fit: 'mnist' });
    const out = await encodeImages(t, [
      b64(
        pngBytes(
          60,
          60,
          gray((x, y) => (x >= 10 && x < 20 && y >= 10 && y < 40 ? 255 : 0)),
        ),
      ),
    ]);
    const s = stats(t, out);
    expect(s.h).toBeGreaterThanOrEqual(19);
    expect(s.h).toBeLessThanOrEqual(21);
    expect(s.w).toBeGreaterThanOrEqual(6);
    expect(s.w).toBeLessThanOrEqual(8);
  });

  it('with invert auto handles a black drawing on white', async () => {
    const t = transform({ fit: 'mnist', invert: 'auto' });
    const out = await encodeImages(t, [
      b64(
        pngBytes(
          60,
          60,
          gray((x, y) => (x >= 40 && x < 50 && y >= 40 && y < 55 ? 0 : 255)),
        ),
      ),
    ]);
    const s = stats(t, out);
    expect(at(t, out, 0, 0)).toBe(0);
    expect(Math.abs(s.cx - 14)).toBeLessThanOrEqual(1);
    expect(Math.abs(s.cy - 14)).toBeLessThanOrEqual(1);
    expect(s.h).toBeGreaterThanOrEqual(19);
  });

  it('without any ink just stretches', async () => {
    const value = b64(
      pngBytes(
        40,
        30,
        gray((x) => (x < 20 ? 10 : 0)),
      ),
    );
    const mnist = await encodeImages(transform({ fit: 'mnist' }), [value]);
    const stretch = await encodeImages(transform(), [value]);
    expect(Array.from(mnist)).toEqual(Array.from(stretch));
  });
});

describe('alpha', () => {
  it.each([
    ['fully transparent black', [0, 0, 0, 0] as Rgba, 1],
    ['half transparent black', [0, 0, 0, 128] as Rgba, 127 / 255],
    ['opaque black', [0, 0, 0, 255] as Rgba, 0],
    ['transparent red', [255, 0, 0, 0] as Rgba, 1],
  ])('%s is composited over white (alpha white, as a manifest without alpha reads it)', async (_name, pixel, expected) => {
    for (const t of [transform({ width: 4, height: 4 }), transform({ width: 4, height: 4, alpha: 'white' })]) {
      const out = await encodeImages(t, [b64(pngBytes(4, 4, () => pixel))]);
      for (const v of out) expect(v).toBeCloseTo(expected, 5);
    }
  });

  it.each([
    ['fully transparent black', [0, 0, 0, 0] as Rgba, 0],
    ['half transparent black', [0, 0, 0, 128] as Rgba, 0],
    ['transparent red', [255, 0, 0, 0] as Rgba, 0.299],
  ])('%s is the colour stored under it with alpha drop (luminance of it)', async (_name, pixel, expected) => {
    const out = await encodeImages(transform({ width: 4, height: 4, alpha: 'drop' }), [b64(pngBytes(4, 4, () => pixel))]);
    for (const v of out) expect(v).toBeCloseTo(expected, 5);
  });
});

describe('bad input -> BadRequestError naming the path', () => {
  const png = pngBytes(8, 8, gray(gradient));
  const withSize = (bytes: Buffer, width: number, height: number) => {
    const copy = Buffer.from(bytes);
    copy.writeUInt32BE(width, 16);
    copy.writeUInt32BE(height, 20);
    return copy;
  };
  const jpg = jpegBytes(8, 8, gray(gradient));
  const hugeJpeg = (() => {
    const copy = Buffer.from(jpg);
    const sof = copy.indexOf(Buffer.from([0xff, 0xc0]));
    copy.writeUInt16BE(30000, sof + 5);
    copy.writeUInt16BE(30000, sof + 7);
    return copy;
  })();

  it.each([
    ['a number', 42, /instances\[0\]: expected an image/],
    ['null', null, /instances\[0\]: expected an image.*got null/],
    ['an array', [1, 2], /instances\[0\]: expected an image.*got an array/],
    ['an object without b64', { image: 'x' }, /instances\[0\]: expected an image/],
    ['not base64', { b64: 'this is *not* base64!' }, /instances\[0\]\.b64: not valid base64/],
    ['a key beside b64 (a label)', { ...b64(png), label: 'live' }, /instances\[0\]: unexpected key "label" beside "b64"/],
    ['a raw input beside the image', { image: b64(png), conv2d_input: [1] }, /instances\[0\]: unexpected key "conv2d_input" beside "image"/],
    ['a key beside image.b64', { image: { ...b64(png), x: 1 } }, /instances\[0\]\.image: unexpected key "x" beside "b64"/],
    ['empty base64', { b64: '' }, /instances\[0\]\.b64: empty/],
    ['a non-base64 data URL', 'data:image/png,abc', /instances\[0\]: only base64 data URLs/],
    ['not an image', b64(Buffer.from('hello, world')), /instances\[0\]: not a PNG or JPEG image/],
    ['a GIF', b64(Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1')), /instances\[0\]: not a PNG or JPEG image/],
    ['a truncated PNG', b64(png.subarray(0, png.length - 20)), /instances\[0\]: corrupt PNG/],
    ['a PNG cut inside its header', b64(png.subarray(0, 20)), /instances\[0\]: corrupt PNG/],
    ['a PNG with a bad CRC', b64(Buffer.concat([png.subarray(0, 30), Buffer.from([png[30] ^ 0xff]), png.subarray(31)])), /instances\[0\]: corrupt PNG/],
    ['a huge declared PNG size', b64(withSize(png, 100000, 100000)), /instances\[0\]: image is 100000x100000, larger than the 2048x2048 limit/],
    ['a PNG one pixel too wide', b64(withSize(png, 2049, 1)), /larger than the 2048x2048 limit/],
    ['a zero-sized PNG', b64(withSize(png, 0, 8)), /instances\[0\]: image has no pixels/],
    ['a huge declared JPEG size', b64(hugeJpeg), /instances\[0\]: image is 30000x30000/],
    ['a truncated JPEG', b64(jpg.subarray(0, 100)), /instances\[0\]: corrupt JPEG/],
  ])('%s', async (_name, value, message) => {
    expect((await badRequest(() => encodeImages(transform(), [value]))).message).toMatch(message);
  });

  it('names the index of the bad instance and the caller-given path', async () => {
    const good = b64(png);
    expect((await badRequest(() => encodeImages(transform(), [good, good, 7]))).message).toMatch(/^instances\[2\]:/);
    expect((await badRequest(() => encodeImages(transform(), [good, { b64: '%%' }], (r) => `inputs[${r}]`))).message).toMatch(/^inputs\[1\]\.b64:/);
  });

  it.each([
    ['PNG', png],
    ['JPEG', jpg],
  ])('random corruption of a %s never escapes as a raw exception', (_name, bytes) => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 300; trial++) {
      const copy = Buffer.from(bytes);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) copy[3 + Math.floor(random() * (copy.length - 3))] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? copy.subarray(0, 3 + Math.floor(random() * (copy.length - 3))) : copy;
      try {
        decodeImage(cut, 'instances[0]');
      } catch (error) {
        expect(error).toBeInstanceOf(BadRequestError);
        expect((error as Error).message).toMatch(/^instances\[0\]: /);
      }
    }
  });
});

describe('PNG encoders', () => {
  it('encodePngGray round-trips 0..1 values as grey levels (clamped, NaN -> 0)', () => {
    const values = [0, 0.5, 1, -3, 7, Number.NaN];
    const image = decodeImage(encodePngGray(values, 3, 2), 'x');
    expect([image.width, image.height]).toEqual([3, 2]);
    const greys = Array.from({ length: 6 }, (_, i) => image.rgba[i * 4]);
    expect(greys).toEqual([0, 128, 255, 0, 255, 0]);
    expect(Array.from({ length: 6 }, (_, i) => image.rgba[i * 4 + 3])).toEqual([255, 255, 255, 255, 255, 255]);
  });

  it('encodePng round-trips RGBA exactly', () => {
    const rgba = new Uint8Array(pixels(7, 5, (x, y) => [x * 30, y * 50, (x * y) % 256, 255 - x]));
    const image = decodeImage(encodePng(rgba, 7, 5), 'x');
    expect(Array.from(image.rgba)).toEqual(Array.from(rgba));
  });

  it.each([[() => encodePng(new Uint8Array(10), 2, 2)], [() => encodePngGray([1, 2, 3], 2, 2)], [() => encodePng(new Uint8Array(0), 0, 0)]])(
    'refuses mismatched sizes (%#)',
    (fn) => {
      expect(fn).toThrow(RangeError);
    },
  );
});

// A crop samples as cropAndResize does: alignCorners (false by default) beside it read as the sampling it does not do.
describe('what metadata says of a crop', () => {
  const parse = (settings: object) => imageTransform.parse({ kind: 'image', width: 192, height: 192, channels: 3, ...settings });

  it('shows no alignCorners or halfPixelCenters beside a crop, and names the crop in the raw-tensor note', () => {
    const crop = parse({ crop: [0, 0, 1, 1] });
    expect(imageKind.describe(crop)).not.toHaveProperty('alignCorners');
    expect(imageKind.describe(crop)).not.toHaveProperty('halfPixelCenters');
    expect(imageKind.describe(crop)).toMatchObject({ crop: [0, 0, 1, 1], width: 192 });
    expect(imageKind.rawTensorNote(crop)).toContain('after the crop [0, 0, 1, 1] (top, left, bottom, right) resized as tf.image.cropAndResize does');
  });

  it('shows both without a crop, where they say how the fit samples', () => {
    const fit = parse({ alignCorners: true });
    expect(imageKind.describe(fit)).toMatchObject({ alignCorners: true, halfPixelCenters: false });
    expect(imageKind.rawTensorNote(fit)).toContain('pixels after the fit and');
  });
});
