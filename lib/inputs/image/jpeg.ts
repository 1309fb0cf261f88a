/**
 * JPEG bytes -> RGBA pixels with libjpeg-turbo's decompressor: mozjpeg's build of it, compiled to
 * wasm by @jsquash/jpeg. libjpeg-turbo is what browsers, TensorFlow's decode_jpeg, PIL and
 * ImageMagick decode with; its defaults (triangle-filter "fancy" chroma upsampling, the accurate
 * integer IDCT) are what a model's own pipeline saw, and this decoder keeps them. jpeg-js, which
 * decoded before, replicates chroma and has its own IDCT: up to 34 levels off on ordinary photos
 * and 0.05 in a classifier's probabilities (README, "Image preprocessing").
 *
 * Synchronous, as decodeImage is: the binary (166 KB) is read and compiled on the first JPEG, not
 * at start-up, and instantiated without waiting (emscripten's instantiateWasm hook, the one
 * @jsquash/jpeg's own init(module) uses). A libjpeg error ends the emscripten program (exit(1))
 * and leaves its stack and heap where libjpeg gave up, so after any failure the next JPEG gets a
 * fresh instance (about 5 ms). The instance's memory grows to what the largest JPEG so far needed
 * and is kept for the next one, unless that JPEG was large (KEEP_DECODER_PIXELS).
 */
import { readFileSync } from 'node:fs';
import mozjpegDecoder from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js';
import { findJpegWasm, JPEG_WASM_FILE } from './jpegWasm.js';

interface DecodedRgba {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

interface Decoder {
  decode(bytes: Uint8Array, preserveOrientation: boolean): DecodedRgba | null;
}

/** What libjpeg says when the data stops before the image does (it then fills the rest with grey). */
const PREMATURE_END = 'Premature end of JPEG file';

/** libjpeg could not decode the file: `message` is its own description (e.g. "Bogus marker length"). */
export class JpegDataError extends Error {
  constructor(
    message: string,
    readonly truncated = false,
  ) {
    super(message);
  }
}

let compiled: WebAssembly.Module | undefined;
let decoder: Decoder | undefined;
/** libjpeg's warnings and errors for the JPEG being decoded (it prints them; we keep them). */
const messages: string[] = [];

function compile(): WebAssembly.Module {
  const file = findJpegWasm();
  if (!file) throw new Error(`the JPEG decoder's ${JPEG_WASM_FILE} is neither beside the bundle nor in node_modules/@jsquash/jpeg`);
  return new WebAssembly.Module(readFileSync(file));
}

/**
 * The class the decoder answers with (it constructs globalThis.ImageData, a browser's). Where there
 * is none, its glue defines one inside its first instance's scope, and the global class then kept
 * that instance alive for good: its memory, and its last image (embind keeps a call's arguments).
 * Defined here, out of any instance, a decoder let go is garbage.
 */
class DecodedImageData {
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}

function start(): Decoder {
  (globalThis as { ImageData?: unknown }).ImageData ??= DecodedImageData;
  compiled ??= compile();
  const module = compiled;
  const options = {
    noInitialRun: true,
    print: (text: string) => messages.push(text),
    printErr: (text: string) => messages.push(text),
    instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) {
      const instance = new WebAssembly.Instance(module, imports);
      receive(instance);
      return instance.exports;
    },
  };
  // The factory fills in the object it is given (emscripten's Module is the object passed in); with a
  // synchronous instantiateWasm the runtime is ready when the call returns. Its promise would only
  // reject on an abort, which the next decode answers by starting afresh.
  const ready = (mozjpegDecoder as unknown as (options: object) => Promise<unknown>)(options);
  ready.catch(() => undefined);
  const started = options as typeof options & Partial<Decoder>;
  if (typeof started.decode !== 'function') throw new Error('the JPEG decoder did not start synchronously');
  return started as unknown as Decoder;
}

/**
 * After a JPEG of more pixels than this (1 MP, 4 MB of RGBA), the instance is let go and the next
 * JPEG starts a fresh one (about 1 ms, beside 30 to 40 ms to decode such a photo). Kept, it held
 * the memory the photo was decoded in (16 MiB and more, all touched) and, until its next decode,
 * the photo's pixels (9.4 MB for 1920 x 1280): memory outside tensors that every later request
 * was measured with, a non-image one too, while the next photo's decoding was counted as new
 * memory all the same. In a 256 MB function a 1920 x 1150 photo served in a fresh process was
 * refused when it came again. Let go, both are garbage, which the collection before any refusal
 * takes (runtime/footprint.ts).
 */
const KEEP_DECODER_PIXELS = 2 ** 20;

const memoryOf = (instance: Decoder | undefined) => (instance as { HEAPU8?: Uint8Array } | undefined)?.HEAPU8?.byteLength ?? 0;
/** The decoder's memory when it started (16 MiB, little of it touched until a JPEG needs it). */
let startBytes = 0;

/**
 * Memory the decoder has grown by since it started (0 before the first JPEG and after a failure):
 * an earlier JPEG needed and touched it, and it is kept, so a JPEG that needs no more than this
 * beyond the start takes no new memory to decode.
 */
export function jpegDecoderGrownBytes(): number {
  return Math.max(0, memoryOf(decoder) - startBytes);
}

/** The RGBA pixels of a JPEG; throws JpegDataError for data libjpeg refuses or that ends early. */
export function decodeJpegRgba(bytes: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  if (!decoder) {
    decoder = start();
    startBytes = memoryOf(decoder);
  }
  messages.length = 0;
  let image: DecodedRgba | null;
  try {
    image = decoder.decode(bytes, false);
  } catch (error) {
    decoder = undefined;
    const said = messages.filter((m) => m !== PREMATURE_END).at(-1);
    if (said) throw new JpegDataError(said, messages.includes(PREMATURE_END));
    if (messages.includes(PREMATURE_END)) throw new JpegDataError(PREMATURE_END, true);
    throw error; // not libjpeg's refusal: the decoder itself failed
  }
  if (messages.includes(PREMATURE_END)) throw new JpegDataError(PREMATURE_END, true);
  if (!image) throw new JpegDataError('no image');
  if (image.width * image.height > KEEP_DECODER_PIXELS) decoder = undefined;
  return { width: image.width, height: image.height, rgba: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength) };
}
