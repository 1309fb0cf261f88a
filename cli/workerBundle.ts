/**
 * The `modelctl batch` worker (cli/batchWorker.ts) as one ES module, so that each worker process
 * starts with plain node: 0.5 s to ready instead of 1.5 s under tsx, which compiles every
 * TypeScript file of lib/ again in every worker (N of them at once, on the cores that then score).
 * Only our code is bundled; packages stay imports that node resolves, which is why the file is
 * written inside the repository, under node_modules/.cache/modelctl/ (about 0.2 s to build, once a
 * run, removed after it).
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

export interface BuiltWorker {
  script: string;
  remove(): Promise<void>;
}

export async function buildWorker(entry: string, repoRoot: string): Promise<BuiltWorker> {
  const dir = path.join(repoRoot, 'node_modules', '.cache', 'modelctl');
  await mkdir(dir, { recursive: true });
  const script = path.join(dir, `batchWorker-${process.pid}-${Date.now()}.mjs`);
  await build({ entryPoints: [entry], outfile: script, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'error' });
  return { script, remove: () => rm(script, { force: true }) };
}
