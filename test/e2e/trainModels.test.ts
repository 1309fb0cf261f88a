/**
 * The demo models in models/ are what `npm run models:train` makes: the script trains on the cpu
 * backend with a fixed seed, so a re-run writes the committed weights byte for byte. Until the script
 * passed its backend to the runtime (it set TFJS_BACKEND, which nothing read), it trained on wasm,
 * whose weights differed from run to run for spam. Iris and housing train in seconds; spam and
 * digits run the same code path.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const committed = path.resolve('models');
let out: string;

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

const manifestOf = async (dir: string, name: string) => JSON.parse(await readFile(path.join(dir, name, 'versions', '1', 'manifest.json'), 'utf8'));

describe('npm run models:train', () => {
  it('reproduces the committed iris and housing models byte for byte, trained on cpu', async () => {
    out = await mkdtemp(path.join(tmpdir(), 'train-'));
    await run(process.execPath, ['--import', 'tsx', 'scripts/trainModels.ts', '--only', 'iris,housing', '--out', out], { maxBuffer: 16 * 1024 * 1024 });
    for (const name of ['iris', 'housing']) {
      const weights = path.join(name, 'versions', '1', 'weights.bin');
      expect(await readFile(path.join(out, weights)), weights).toEqual(await readFile(path.join(committed, weights)));
      const [made, kept] = await Promise.all([manifestOf(out, name), manifestOf(committed, name)]);
      expect(made.training.backend).toBe('cpu');
      expect(made.metrics).toEqual(kept.metrics);
    }
  }, 120_000);

  it('says every committed demo model was trained on cpu, as the script trains', async () => {
    for (const name of ['digits', 'housing', 'iris', 'spam']) expect((await manifestOf(committed, name)).training.backend, name).toBe('cpu');
  });
});
