/**
 * Where the JPEG decoder's binary (libjpeg-turbo's decompressor, as mozjpeg builds it, compiled to
 * wasm by @jsquash/jpeg) is. Bundles carry `mozjpeg_dec.wasm` next to their index.js (scripts/build.ts
 * copies it, as it does the TF.js wasm backend's); in the source tree it is in node_modules.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const JPEG_WASM_FILE = 'mozjpeg_dec.wasm';

/** The binary in node_modules, or undefined (inside a bundle there is no node_modules). */
export function jpegWasmInPackage(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return path.join(path.dirname(require.resolve('@jsquash/jpeg/package.json')), 'codec', 'dec', JPEG_WASM_FILE);
  } catch {
    return undefined;
  }
}

/** The binary beside this module (a bundle), else the package's; undefined when neither exists. */
export function findJpegWasm(): string | undefined {
  const beside = path.join(path.dirname(fileURLToPath(import.meta.url)), JPEG_WASM_FILE);
  return [beside, jpegWasmInPackage()].find((file): file is string => file !== undefined && existsSync(file));
}
