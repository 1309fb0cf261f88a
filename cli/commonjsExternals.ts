/**
 * An esbuild plugin for the CommonJS worker bundle (workerBundle.ts): a package import stays an
 * external require() when node would load that require's file as CommonJS, and is bundled when node
 * would load it as an ES module.
 *
 * Why not leave every package external: a require() of an ES module gives its namespace object, and
 * esbuild's interop for a default import from a `"type": "module"` file (ours) takes the whole
 * module.exports as the default, as node does for CommonJS. So `import decoder from
 * '@jsquash/jpeg/codec/dec/mozjpeg_dec.js'` got `{ __esModule, default }` instead of the function,
 * on Node 20 and 22 alike, and every JPEG row failed the run. Bundled, an ES module's default export
 * is the value it exports, as in the Lambda bundles (ES modules that bundle everything).
 */
import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'esbuild';

const typeOfFolder = new Map<string, string | undefined>();

/** The "type" of the package.json nearest above `folder` (node's rule for a .js file), cached per folder. */
function packageType(folder: string): string | undefined {
  if (typeOfFolder.has(folder)) return typeOfFolder.get(folder);
  let type: string | undefined;
  try {
    type = JSON.parse(readFileSync(path.join(folder, 'package.json'), 'utf8')).type ?? 'commonjs';
  } catch {
    const parent = path.dirname(folder);
    type = parent === folder ? undefined : packageType(parent);
  }
  typeOfFolder.set(folder, type);
  return type;
}

/** Whether node loads `file` as an ES module. */
function loadsAsEsm(file: string): boolean {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  return packageType(path.dirname(file)) === 'module';
}

const builtins = new Set(builtinModules);

export const commonjsExternals: Plugin = {
  name: 'commonjs-externals',
  setup(build) {
    // Bare specifiers only (packages and node's builtins); relative paths are bundled as before.
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || builtins.has(args.path)) return { path: args.path, external: true };
      // The file the worker's require() will load: node's own resolution from the importing file
      // (a package's "require" export condition, which may not be the file an import gets). Node's
      // resolver, not esbuild's build.resolve, which costs about 10 ms a package (0.4 s a build).
      let file: string;
      try {
        file = createRequire(args.importer).resolve(args.path);
      } catch {
        return undefined; // no file for require() (an import-only export): esbuild's resolver finds it, and it is bundled
      }
      return loadsAsEsm(file) ? { path: file } : { path: args.path, external: true };
    });
  },
};
