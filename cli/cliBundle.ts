/**
 * modelctl as one CommonJS file, which bin/modelctl.js runs (about 0.5 s a command, against 1.3 s when
 * tsx compiles cli/modelctl.ts and the ~150 files under it at every start). Built as the batch worker
 * is (workerBundle.ts, commonjsExternals.ts: why CommonJS, why inside the repository), into
 * node_modules/.cache/modelctl/modelctl.cjs, by bin/modelctl.js whenever a file it was built from
 * changed. Its first line records those files, with their size and mtime, for that check:
 *   // modelctl-inputs {"root": <package folder>, "inputs": [[file, size, mtimeMs], ...]}
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { commonjsExternals } from './commonjsExternals.js';
import { bundleCacheDir, commonjsBundleOptions } from './workerBundle.js';

/** Where bin/modelctl.js looks for the bundle. */
export const cliBundlePath = (root: string): string => path.join(bundleCacheDir(root), 'modelctl.cjs');

/**
 * import.meta.url as each of our files' own URL, as under tsx: lib/config.ts finds models/ from it,
 * cli/commands/batch.ts the worker's source, lib/runtime/wasmFiles.ts and jpegWasm.ts the wasm binaries
 * (esbuild has no per-file value for it: `define` is one value for the whole bundle). A file that uses
 * it gets a const of its URL, which the define (workerBundle.ts commonjsBundleOptions) points import.meta.url to; esbuild renames each
 * module's const apart (never to the banner's name, which packages' import.meta.url reads), and
 * leaves strings and comments alone.
 */
const ownFileUrls: Plugin = {
  name: 'own-file-urls',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
      // Packages keep the bundle's URL (the banner's), as in the worker: read here, h5wasm's megabytes
      // would cross to esbuild and back, a third of the build's time.
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta')) return undefined;
      const loader = /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js';
      return { contents: `const __importMetaUrl = ${JSON.stringify(pathToFileURL(args.path).href)};${source}`, loader };
    });
  },
};

/** Files whose change changes the bundle without being imported by it: how it is built. */
const buildFiles = ['cli/cliBundle.ts', 'cli/commonjsExternals.ts', 'package.json', 'tsconfig.json'];

/** Builds the bundle and returns its path; written whole under a temporary name, then renamed, so a concurrent start never runs half a file. */
export async function buildCliBundle(root: string): Promise<string> {
  const started = Date.now();
  const result = await build({
    entryPoints: [path.join(root, 'cli', 'modelctl.ts')],
    absWorkingDir: root,
    ...commonjsBundleOptions('__importMetaUrl'),
    plugins: [commonjsExternals, ownFileUrls],
    // --verbose stack traces name our files' lines, as under tsx: bin/modelctl.js turns source maps
    // on for it. Sources are on disk, so not in the map.
    outfile: cliBundlePath(root),
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    write: false,
  });
  const files = [...Object.keys(result.metafile.inputs), ...buildFiles].map((file) => path.resolve(root, file));
  const inputs = await Promise.all(
    files.map(async (file) => {
      const { size, mtimeMs } = await stat(file);
      // Changed while esbuild read it: which content the bundle holds is unknown, so the next start builds again.
      return [file, mtimeMs >= started - 1000 ? -1 : size, mtimeMs] as const;
    }),
  );
  const bundle = cliBundlePath(root);
  await mkdir(path.dirname(bundle), { recursive: true });
  const output = (extension: string) => result.outputFiles.find((file) => file.path.endsWith(extension))?.text ?? '';
  const header = `// modelctl-inputs ${JSON.stringify({ root, inputs })}\n`;
  // The header is one more line above the code: one more (empty) line of mappings.
  await writeWhole(`${bundle}.map`, output('.map').replace('"mappings": "', '"mappings": ";'));
  await writeWhole(bundle, header + output('.cjs'));
  return bundle;
}

/** Writes `file` under a temporary name, then renames it into place: a reader sees all of it or none. */
async function writeWhole(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}-${Date.now()}.tmp`;
  try {
    await writeFile(temporary, text);
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}
