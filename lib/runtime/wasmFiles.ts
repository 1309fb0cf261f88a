/**
 * Where the wasm backend's binary is. Bundles carry `tfjs-backend-wasm-simd.wasm` next to their
 * index.js (and its chunks); in the source tree it is in node_modules. Nothing is fetched over the network.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WASM_SIMD_FILE = 'tfjs-backend-wasm-simd.wasm';

function packageDistDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  } catch {
    return undefined; // inside a bundle there is no node_modules
  }
}

/** The first folder holding the SIMD binary: the configured one, the module's own, node_modules. */
export function findWasmDir(configured?: string): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = configured ? [configured] : [here, packageDistDir()];
  return candidates.find((dir): dir is string => dir !== undefined && existsSync(path.join(dir, WASM_SIMD_FILE)));
}
