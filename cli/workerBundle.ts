/**
 * The `modelctl batch` worker (cli/batchWorker.ts) as one CommonJS file, so that each worker process
 * starts with plain node: about 0.4-0.55 s to ready alone, against 0.65-0.8 s as an ES module
 * (node scans the source of every CommonJS package an ES module imports for its export names:
 * tfjs-core's megabytes each time) and 1.5 s under tsx, which compiles every TypeScript file of lib/
 * again in every worker (N of them at once, on the cores that then score). Our code is bundled, and
 * so are the packages node would load as ES modules (commonjsExternals.ts says why); CommonJS
 * packages stay requires that node resolves, which is why the file is written inside the
 * repository, under node_modules/.cache/modelctl/ (about 0.1 s to build, once a run, removed after it).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { commonjsExternals } from './commonjsExternals.js';

export interface BuiltWorker {
  script: string;
  remove(): Promise<void>;
}

/** Where modelctl's bundles are written: inside the package, so node resolves their requires from its node_modules. */
export const bundleCacheDir = (repoRoot: string): string => path.join(repoRoot, 'node_modules', '.cache', 'modelctl');

/**
 * What modelctl's CommonJS bundles share (this worker's, and the CLI's: cliBundle.ts). import.meta.url
 * has no value in CommonJS: it reads `urlName`, which the banner sets to the bundle file's own URL
 * (lib/config.ts and lib/runtime/wasmFiles.ts find the models and the wasm binary from it).
 */
export function commonjsBundleOptions(urlName: string) {
  return {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    plugins: [commonjsExternals],
    define: { 'import.meta.url': urlName },
    banner: { js: `var ${urlName} = require("node:url").pathToFileURL(__filename).href;` },
    logLevel: 'error',
  } satisfies BuildOptions;
}

export async function buildWorker(entry: string, repoRoot: string): Promise<BuiltWorker> {
  const dir = bundleCacheDir(repoRoot);
  await mkdir(dir, { recursive: true });
  // Its own name: two runs in one process within a millisecond (tests, the bench) shared one, and
  // the first to end removed the other's workers' program.
  const script = path.join(dir, `batchWorker-${process.pid}-${randomUUID()}.cjs`);
  await build({ ...commonjsBundleOptions('__moduleUrl'), entryPoints: [entry], outfile: script });
  return { script, remove: () => rm(script, { force: true }) };
}
