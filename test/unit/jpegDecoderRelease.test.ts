/**
 * After a large JPEG the decoder's instance is let go and becomes garbage with the memory it
 * decoded in (lib/inputs/image/jpeg.ts, KEEP_DECODER_PIXELS). Kept, it held that memory (16 MiB and
 * more, all touched) and the photo's pixels for as long as the process lived; and its glue's
 * ImageData class, defined inside the first instance and set on globalThis, kept that first
 * instance alive even once the decoder let go of it. The instances are watched by WeakRefs taken
 * where WebAssembly.Instance is constructed (the decoder instantiates with it synchronously); in
 * this file only the decoder instantiates wasm.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { decodeJpegRgba, jpegDecoderGrownBytes } from '../../lib/inputs/image/jpeg.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const instances: WeakRef<WebAssembly.Instance>[] = [];
const memories: WeakRef<WebAssembly.Memory>[] = [];
WebAssembly.Instance = new Proxy(WebAssembly.Instance, {
  construct(target, args, newTarget) {
    const instance = Reflect.construct(target, args, newTarget) as WebAssembly.Instance;
    instances.push(new WeakRef(instance));
    for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.push(new WeakRef(value));
    return instance;
  },
});

const read = (file: string) => new Uint8Array(readFileSync(file));
/** A 200 x 150 JPEG (0.03 MP): the decoder is kept after it. */
const SMALL = read(path.resolve('test/fixtures/jpeg/444.jpg'));
/** A 1920 x 1280 camera JPEG (2.5 MP): the decoder is let go after it. */
const PHOTO = read(path.resolve('node_modules/@vladmandic/face-api/demo/sample1.jpg'));

/** The watched instances and memories still alive after full collections (a WeakRef's target is held until the job that made or read it ends). */
async function alive(): Promise<{ instances: number; memories: number }> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  gc();
  gc();
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { instances: instances.filter((r) => r.deref()).length, memories: memories.filter((r) => r.deref()).length };
}

it('the decoder is kept after a small JPEG, and after a photo of more than 1 MP it is garbage with its memory', async () => {
  decodeJpegRgba(SMALL);
  decodeJpegRgba(SMALL);
  expect(instances.length, 'one instance decodes both small JPEGs').toBe(1);
  expect(memories.length, 'the instance exports its memory').toBe(1);
  expect(await alive()).toEqual({ instances: 1, memories: 1 });

  // The kept instance decodes the photo (its memory grows to hold it), then is let go.
  const first = decodeJpegRgba(PHOTO);
  expect(instances.length).toBe(1);
  expect(await alive(), 'the instance that decoded the photo, and its memory, are garbage').toEqual({ instances: 0, memories: 0 });
  expect(jpegDecoderGrownBytes()).toBe(0);

  // The next JPEG starts a fresh instance, which decodes the same pixels, and is let go in turn.
  const again = decodeJpegRgba(PHOTO);
  expect(instances.length).toBe(2);
  expect({ width: again.width, height: again.height }).toEqual({ width: 1920, height: 1280 });
  expect(Buffer.compare(again.rgba, first.rgba)).toBe(0);
  expect(await alive()).toEqual({ instances: 0, memories: 0 });
});
