/**
 * Bundle and zip sizes of every handler, built with the same esbuild configuration that ships
 * (scripts/build.ts). Built into a private folder so a concurrent `npm run build` into dist/ is
 * neither disturbed nor measured half-written.
 */
import path from 'node:path';
import { buildHandlers, BUNDLE_BUDGET_BYTES } from '../scripts/build.js';
import { zipBytes } from './zip.js';

export interface BundleSize {
  name: string;
  bundleFile: string;
  indexJsBytes: number;
  /** index.js and the chunks it imports statically: what a cold start loads. */
  startupBytes: number;
  /** Every .js file, lazily loaded chunks included. */
  totalBytes: number;
  wasmBytes: number;
}

export interface ZipSize {
  name: string;
  zipBytes: number;
  files: string[];
}

export { BUNDLE_BUDGET_BYTES };

export async function measureBundles(outDir: string): Promise<{ bundles: BundleSize[]; zips: ZipSize[] }> {
  const builds = await buildHandlers({ outDir, enforceBudget: false });
  const bundles = builds.map((b) => ({
    name: b.name,
    bundleFile: b.bundleFile,
    indexJsBytes: b.bundleBytes,
    startupBytes: b.startupBytes,
    totalBytes: b.totalBytes,
    wasmBytes: b.wasmBytes,
  }));
  const zips: ZipSize[] = [];
  for (const b of builds) {
    const zip = await zipBytes(b.dir, path.posix.join('dist', b.name));
    zips.push({ name: b.name, zipBytes: zip.bytes, files: zip.files });
  }
  return { bundles, zips };
}
