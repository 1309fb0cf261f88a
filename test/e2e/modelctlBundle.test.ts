/**
 * bin/modelctl.js runs modelctl from a bundle it builds and keeps fresh (cli/cliBundle.ts), in a copy
 * of the package (its own node_modules/.cache, its node_modules' packages linked): an edit to a source
 * file is what the next command runs, two first starts at once both run, a start with nothing changed
 * builds nothing, import.meta.url still finds the copy's models/, and an unwritable cache falls back to tsx.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { node22 } from '../../scripts/local/node22.js';

const run = promisify(execFile);
let copy: string;
let bundle: string;

const ctl = (...args: string[]) => run(process.execPath, [path.join(copy, 'bin/modelctl.js'), ...args]);

beforeAll(async () => {
  copy = await mkdtemp(path.join(tmpdir(), 'modelctl-package-'));
  for (const entry of ['bin', 'cli', 'lib', 'package.json', 'tsconfig.json']) await cp(entry, path.join(copy, entry), { recursive: true, preserveTimestamps: true });
  // Two models only, so that listing them shows which models/ the bundle found.
  for (const model of ['iris', 'spam']) await cp(path.join('models', model), path.join(copy, 'models', model), { recursive: true });
  await mkdir(path.join(copy, 'node_modules'));
  for (const entry of await readdir('node_modules')) {
    if (entry !== '.cache') await symlink(path.resolve('node_modules', entry), path.join(copy, 'node_modules', entry));
  }
  bundle = path.join(copy, 'node_modules/.cache/modelctl/modelctl.cjs');
}, 60_000);

afterAll(() => rm(copy, { recursive: true, force: true }));

const models = async (stdout: string) => (JSON.parse(stdout) as { model: string }[]).map((row) => row.model);

describe('the modelctl bundle', () => {
  it('two first starts at once both run, from one whole bundle, and find the models beside the sources', async () => {
    const answers = await Promise.all([ctl('list', '--json'), ctl('list', '--json')]);
    for (const { stdout } of answers) expect(await models(stdout)).toEqual(['iris', 'spam']);
    expect((await readdir(path.dirname(bundle))).sort()).toEqual(['modelctl.cjs', 'modelctl.cjs.map']);
    expect(await readFile(bundle, 'utf8')).toMatch(/^\/\/ modelctl-inputs /);
  }, 60_000);

  it('runs an edited source file at the next start, and builds nothing when nothing changed', async () => {
    const source = path.join(copy, 'cli/modelctl.ts');
    await writeFile(source, (await readFile(source, 'utf8')).replace('Manage TF.js model versions', 'Manage edited model versions'));
    // An mtime well before the build: the build records it as it is (one edited during a build is recorded as unknown).
    await utimes(source, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    expect((await ctl('--help')).stdout).toContain('Manage edited model versions');
    const built = (await stat(bundle)).mtimeMs;
    expect((await ctl('show', 'iris')).stdout).toContain('"name": "iris"');
    expect((await stat(bundle)).mtimeMs).toBe(built);
  }, 60_000);

  it('names the TypeScript files and lines in a --verbose stack trace, as under tsx', async () => {
    const error = await ctl('--verbose', 'show', 'nosuch').catch((e: { stderr: string; code: number }) => e);
    expect(error).toMatchObject({ code: 1 });
    expect((error as { stderr: string }).stderr).toMatch(new RegExp(`\\n\\s+at namingWhatExists \\(${copy}/cli/refs\\.ts:\\d+:\\d+\\)`));
  }, 60_000);

  it('rebuilds when a file it was built from is gone', async () => {
    const built = (await stat(bundle)).mtimeMs;
    const header = JSON.parse((await readFile(bundle, 'utf8')).split('\n', 1)[0].replace('// modelctl-inputs ', '')) as { inputs: [string][] };
    const optionParsers = path.join(copy, 'cli/optionParsers.ts');
    expect(header.inputs.map(([file]) => file)).toContain(optionParsers);
    await rm(optionParsers);
    // Its importer now fails to build: the fallback (tsx) runs and says what is missing, as the sources would.
    await expect(ctl('list')).rejects.toThrow(/optionParsers/);
    await cp('cli/optionParsers.ts', optionParsers);
    expect(await models((await ctl('list', '--json')).stdout)).toEqual(['iris', 'spam']);
    expect((await stat(bundle)).mtimeMs).toBeGreaterThan(built);
  }, 60_000);

  it('runs the sources under tsx when the bundle cannot be written', async () => {
    await rm(path.join(copy, 'node_modules/.cache'), { recursive: true });
    await writeFile(path.join(copy, 'node_modules/.cache'), 'a file where the cache folder would be');
    try {
      expect(await models((await ctl('list', '--json')).stdout)).toEqual(['iris', 'spam']);
    } finally {
      await rm(path.join(copy, 'node_modules/.cache'));
    }
  }, 60_000);

  it('builds and runs on Node 22', async () => {
    const { stdout } = await run(await node22(), [path.join(copy, 'bin/modelctl.js'), 'list', '--json']);
    expect(await models(stdout)).toEqual(['iris', 'spam']);
    expect(await readFile(bundle, 'utf8')).toMatch(/^\/\/ modelctl-inputs /);
  }, 180_000);
});
