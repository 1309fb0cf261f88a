#!/usr/bin/env node
// Runs cli/modelctl.ts from one CommonJS bundle that this file keeps fresh (cli/cliBundle.ts builds it).
// Measured (medians of 5, list / show iris / --help, load ~4 on 2 cores): 0.61 / 0.49 / 0.49 s, against
// 1.73 / 1.71 / 1.66 s when tsx compiled the ~150 TypeScript files each time; 1.2-1.7 s when it rebuilds.
// The bundle runs in this process, so signals, exit codes and stdio are modelctl's own.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const bundle = `${root}/node_modules/.cache/modelctl/modelctl.cjs`;

/** The bundle's first line: the package folder it was built for and the files it was built from, with their size and mtime. */
function header() {
  const fd = openSync(bundle, 'r');
  try {
    const buffer = Buffer.alloc(1 << 20);
    const line = buffer.toString('utf8', 0, readSync(fd, buffer)).split('\n', 1)[0];
    return JSON.parse(line.replace(/^\/\/ modelctl-inputs /, ''));
  } finally {
    closeSync(fd);
  }
}

/** Whether the bundle exists and every file it was built from is as it was then (a stat each: cheap). */
function fresh() {
  try {
    const { root: builtFor, inputs } = header();
    return (
      builtFor === root &&
      inputs.every(([file, size, mtimeMs]) => {
        const now = statSync(file, { throwIfNoEntry: false });
        return now !== undefined && now.size === size && now.mtimeMs === mtimeMs;
      })
    );
  } catch {
    return false; // no bundle yet, or one cut short
  }
}

async function build() {
  const { tsImport } = await import('tsx/esm/api');
  const { buildCliBundle } = await tsImport('../cli/cliBundle.ts', import.meta.url);
  await buildCliBundle(root);
}

let built = fresh();
if (!built) {
  try {
    await build();
    built = true;
  } catch {
    // It cannot be written (a read-only install, say): tsx runs the sources, as slowly as ever but as correctly.
  }
}
if (built) {
  // --verbose stack traces name the TypeScript files' lines (the bundle's map), as they did under
  // tsx; only then: reading the map costs about 0.1 s a start.
  if (process.argv.includes('--verbose')) process.setSourceMapsEnabled(true);
  createRequire(import.meta.url)(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/modelctl.ts');
}
