/**
 * Bundles every handlers/*.ts with esbuild into one self-contained folder per Lambda:
 *   dist/<name>/index.js                     ESM bundle (minified): what the handler needs to start
 *   dist/<name>/<chunk>-<hash>.js            code loaded on first use (import()): other operations'
 *                                            schemas, explanations on the predict function, ...
 *   dist/<name>/package.json                 {"type":"module"}: makes index.js an ES module
 *   dist/<name>/tfjs-backend-wasm-simd.wasm  the wasm backend's binary, found beside the bundle
 *   dist/<name>/mozjpeg_dec.wasm             the JPEG decoder's binary (libjpeg-turbo), read on the first JPEG
 *   dist/<name>/index.js.map, meta.json      source map and esbuild metafile: not zipped
 *
 * Why index.js + package.json and not index.mjs: `serverless invoke local` (osls 4.3.1) loads
 * handlers with require() of the extensionless path, which finds .js/.cjs but never .mjs, and
 * fails. Lambda and serverless-offline accept both forms. Consequence: no top-level await in
 * handlers (Node 20's require() of an ES module refuses async modules: ERR_REQUIRE_ASYNC_MODULE).
 *
 * One esbuild configuration (buildHandlers) serves `npm run build`, `serverless package`, the
 * bench and CI, so what is measured is what ships.
 *
 *   npm run build                          all handlers/*.ts into dist/
 *   npm run build -- predict metadata      only these
 *   npm run build -- --handlers-dir d --out-dir o --analyze
 */
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Budget for what each function loads at a cold start (index.js and its static chunks; not the .wasm). CI fails the build above it. */
export const BUNDLE_BUDGET_BYTES = 1_500_000;

import { JPEG_WASM_FILE, jpegWasmInPackage } from '../lib/inputs/image/jpegWasm.js';
import { WASM_SIMD_FILE } from '../lib/runtime/wasmFiles.js';

/**
 * tfjs and the wasm backend's emscripten glue are CommonJS: they call require('fs'), read
 * __dirname, etc. An ESM bundle has none of these, so the banner defines them. esbuild's own
 * `__require` shim picks up this `require`. Names are prefixed so they cannot meet bundled code.
 */
const CJS_SHIM_BANNER = [
  "import { createRequire as __shimCreateRequire } from 'node:module';",
  "import { fileURLToPath as __shimFileURLToPath } from 'node:url';",
  "import { dirname as __shimDirname } from 'node:path';",
  'const require = __shimCreateRequire(import.meta.url);',
  'const __filename = __shimFileURLToPath(import.meta.url);',
  'const __dirname = __shimDirname(__filename);',
].join('\n');

/**
 * The process's memory when the bundle's first file starts (every file carries the banner; the
 * first to run sets it): what a host process held before the function's code, which
 * lib/runtime/hostProcess.ts counts out under `serverless invoke local`.
 */
const START_MEMORY_BANNER = 'globalThis.__bundleStartMemory ??= process.memoryUsage();';

/**
 * Not bundled:
 * - @tensorflow/tfjs-node: optional, native, ~370 MB; lib/runtime/backend.ts imports it
 *   dynamically and falls back to wasm when it is absent (always, in a zip).
 * - node-fetch: tfjs-core requires it only when globalThis.fetch is missing; Node >= 18 has fetch.
 *   Bundling it would add whatwg-url/tr46 for nothing.
 * - @aws-sdk/*: the nodejs22.x runtime ships SDK v3 in /var/runtime/node_modules, and since
 *   nodejs18.x Lambda resolves ES-module imports from there (NODE_PATH). External because the
 *   budget demands it. Measured with scratch handlers (backend + layers + converter + zod + S3
 *   store; "full" also Powertools logger/metrics, pngjs, jpeg-js, csv-parse), bytes of index.js:
 *                          SDK bundled   SDK external
 *     predict-like            1,645,256      1,168,120
 *     full                    1,761,881      1,286,879
 *   Both columns already drop zod's locales (zodEnglishOnly, -264,672) and keep names (+~56,000).
 *   The cost: the runtime's SDK loads from many files; locally that adds ~170 ms to the import
 *   (bundle import 390 ms with SDK external, 225 ms with it bundled). Local runs (invoke local,
 *   offline, tests) use the SDK version in node_modules; in Lambda it is the runtime's, which is
 *   newer than S3's If-None-Match support (2024-08). Code must import @aws-sdk/* packages only
 *   (not @smithy/* directly), or a second copy of those would be bundled.
 */
export const EXTERNAL_MODULES = ['@tensorflow/tfjs-node', 'node-fetch', '@aws-sdk/*'];

/**
 * zod's `z` namespace re-exports `locales` (40-odd translations of its error messages, 267 KB
 * minified) and a namespace cannot be tree-shaken. We only use English, which zod installs by
 * importing locales/en.js directly; this plugin makes `z.locales` hold `en` alone.
 */
export const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: path.resolve(args.resolveDir, args.path), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: "export { default as en } from './en.js';\n",
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

export interface BuildHandlersOptions {
  /** Folder of handler entry files (default: <repo>/handlers). */
  handlersDir?: string;
  /** Output root; each handler gets <outDir>/<name>/ (default: <repo>/dist). */
  outDir?: string;
  /** Handler names (file names without .ts) to build; default: every *.ts in handlersDir. */
  entries?: string[];
  /** Fail when a bundle is over BUNDLE_BUDGET_BYTES (default true). */
  enforceBudget?: boolean;
}

export interface HandlerBuild {
  name: string;
  dir: string;
  bundleFile: string;
  /** index.js and the chunks it imports statically: what a cold start loads. */
  startupBytes: number;
  /** Every .js file of the bundle, lazy chunks included. */
  totalBytes: number;
  bundleBytes: number;
  wasmBytes: number;
  metafile: Metafile;
}

/** The esbuild options for one handler; exported so the bench can build variants from them. */
export function esbuildOptions(entryFile: string, outDir: string): BuildOptions {
  return {
    entryPoints: { index: entryFile },
    outdir: outDir,
    // Dynamic import() becomes a chunk loaded on first use: code a route may never need stays off
    // the cold start (e.g. explanations in the predict function). Chunks sit beside index.js, so
    // import.meta.url (used to find the wasm binary) names the same folder in every file.
    splitting: true,
    chunkNames: '[name]-[hash]',
    absWorkingDir: repoRoot,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    // esbuild's default for platform node is main,module: with it the cpu backend is silently
    // missing from the bundle (checked). The ESM builds keep their registrations.
    mainFields: ['module', 'main'],
    // ServiceError sets `this.name = new.target.name`; keep class/function names so errors in
    // logs read "NotFoundError", not "e". Costs about 5% of the bundle.
    keepNames: true,
    sourcemap: 'linked',
    metafile: true,
    external: EXTERNAL_MODULES,
    plugins: [zodEnglishOnly],
    banner: { js: `${CJS_SHIM_BANNER}\n${START_MEMORY_BANNER}` },
    logLevel: 'warning',
  };
}

/** The wasm backend's SIMD binary in node_modules (the only one loaded in Node: SIMD, one thread). */
export function wasmSourceFile(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist', WASM_SIMD_FILE);
}

/** Handler names in a folder: every *.ts that is not a test or a declaration file. */
export async function discoverHandlers(handlersDir: string): Promise<string[]> {
  let files: string[];
  try {
    files = await readdir(handlersDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return files
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .map((f) => f.slice(0, -'.ts'.length))
    .sort();
}

/** The JPEG decoder's binary in node_modules (lib/inputs/image/jpeg.ts reads it beside the bundle). */
function jpegWasmSourceFile(): string {
  const file = jpegWasmInPackage();
  if (!file) throw new Error(`@jsquash/jpeg is not installed: no ${JPEG_WASM_FILE} to carry`);
  return file;
}

async function buildOne(name: string, handlersDir: string, outDir: string, wasmFile: string): Promise<HandlerBuild> {
  const dir = path.join(outDir, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const bundleFile = path.join(dir, 'index.js');
  const result = await build(esbuildOptions(path.join(handlersDir, `${name}.ts`), dir));
  const metafile = result.metafile!;
  const sizes = outputSizes(metafile, path.relative(repoRoot, bundleFile));
  await Promise.all([
    writeFile(path.join(dir, 'meta.json'), JSON.stringify(metafile)),
    writeFile(path.join(dir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`),
    copyFile(wasmFile, path.join(dir, WASM_SIMD_FILE)),
    copyFile(jpegWasmSourceFile(), path.join(dir, JPEG_WASM_FILE)),
  ]);
  const [bundleStat, wasmStat] = await Promise.all([stat(bundleFile), stat(path.join(dir, WASM_SIMD_FILE))]);
  return { name, dir, bundleFile, bundleBytes: bundleStat.size, wasmBytes: wasmStat.size, metafile, ...sizes };
}

export async function buildHandlers(options: BuildHandlersOptions = {}): Promise<HandlerBuild[]> {
  const handlersDir = path.resolve(options.handlersDir ?? path.join(repoRoot, 'handlers'));
  const outDir = path.resolve(options.outDir ?? path.join(repoRoot, 'dist'));
  const available = await discoverHandlers(handlersDir);
  const names = options.entries?.length ? options.entries : available;
  const unknown = names.filter((n) => !available.includes(n));
  if (unknown.length) throw new Error(`no handler ${unknown.join(', ')} in ${handlersDir}`);
  const wasmFile = wasmSourceFile();
  const builds = await Promise.all(names.map((name) => buildOne(name, handlersDir, outDir, wasmFile)));
  const problem = budgetProblem(builds);
  if ((options.enforceBudget ?? true) && problem) throw new Error(problem);
  return builds;
}

/** A message naming the bundles over BUNDLE_BUDGET_BYTES, or undefined when all fit. */
export function budgetProblem(builds: HandlerBuild[]): string | undefined {
  const over = builds.filter((b) => b.startupBytes > BUNDLE_BUDGET_BYTES);
  if (!over.length) return undefined;
  const list = over.map((b) => `${b.name} (${b.startupBytes} bytes)`).join(', ');
  return `bundle over the ${BUNDLE_BUDGET_BYTES}-byte budget: ${list}; run with --analyze or read <outDir>/<name>/meta.json`;
}

/** The outputs a cold start loads: the entry and, transitively, what it imports statically. */
export function startupOutputs(metafile: Metafile, entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || !metafile.outputs[file]) return;
    seen.add(file);
    for (const imported of metafile.outputs[file].imports) if (imported.kind === 'import-statement') visit(imported.path);
  };
  visit(entry);
  return [...seen];
}

function outputSizes(metafile: Metafile, entry: string): { startupBytes: number; totalBytes: number } {
  const js = Object.entries(metafile.outputs).filter(([file]) => file.endsWith('.js'));
  const startup = new Set(startupOutputs(metafile, entry));
  return {
    startupBytes: js.filter(([file]) => startup.has(file)).reduce((n, [, o]) => n + o.bytes, 0),
    totalBytes: js.reduce((n, [, o]) => n + o.bytes, 0),
  };
}

/** Output bytes grouped by npm package ("(own code)" for the repo's files), largest first. */
export function bytesByPackage(metafile: Metafile): [string, number][] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? '(own code)';
      totals.set(pkg, (totals.get(pkg) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

function printTable(builds: HandlerBuild[]): void {
  const rows = [['handler', 'start-up bytes', 'all .js bytes', 'wasm bytes'], ...builds.map((b) => [b.name, String(b.startupBytes), String(b.totalBytes), String(b.wasmBytes)])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) {
    console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  }
  console.log(`budget: ${BUNDLE_BUDGET_BYTES} start-up bytes per function (index.js and its static chunks; wasm and source maps not counted)`);
}

/** docs/openapi.json, generated from the same zod schemas the handlers validate with. */
async function writeOpenApi(): Promise<void> {
  const { openApiDocument } = await import('../lib/api/openapi.js');
  const file = path.join(repoRoot, 'docs', 'openapi.json');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(await openApiDocument(), null, 2)}\n`);
  console.log(`wrote ${path.relative(repoRoot, file)}`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'handlers-dir': { type: 'string' },
      'out-dir': { type: 'string' },
      analyze: { type: 'boolean', default: false },
    },
  });
  const builds = await buildHandlers({
    handlersDir: values['handlers-dir'],
    outDir: values['out-dir'],
    entries: positionals,
    enforceBudget: false, // checked below, after the table is printed
  });
  if (builds.length === 0) {
    console.log('no handlers/*.ts to build');
    return;
  }
  if (values.analyze) {
    for (const b of builds) {
      console.log(`${b.name}, bytes in index.js by package:`);
      for (const [pkg, bytes] of bytesByPackage(b.metafile).slice(0, 15)) console.log(`  ${String(bytes).padStart(8)}  ${pkg}`);
    }
  }
  printTable(builds);
  await writeOpenApi();
  const problem = budgetProblem(builds);
  if (problem) throw new Error(problem);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
