import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tsx = path.resolve('node_modules/.bin/tsx');
const script = path.resolve('test/helpers/chooseBackend.ts');

/** The backend is chosen once per process, so each case is a fresh process. */
async function chooseIn(env: Record<string, string>): Promise<{ name: string; tf: string }> {
  const { stdout } = await run(tsx, [script], { env: { ...process.env, TFJS_BACKEND: '', ...env } });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('backend choice', () => {
  it('uses wasm when tfjs-node is absent, loading the binary from disk', async () => {
    expect(await chooseIn({})).toEqual({ name: 'wasm', tf: 'wasm' });
  });

  it('follows TFJS_BACKEND=cpu', async () => {
    expect(await chooseIn({ TFJS_BACKEND: 'cpu' })).toEqual({ name: 'cpu', tf: 'cpu' });
  });

  it('fails loudly, naming the file, when TFJS_BACKEND=wasm and the binary is missing', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'no-wasm-'));
    await expect(chooseIn({ TFJS_BACKEND: 'wasm', TFJS_WASM_DIR: empty })).rejects.toThrow(/TFJS_BACKEND=wasm could not be started \(is tfjs-backend-wasm-simd.wasm in/);
  });

  it('fails loudly when TFJS_BACKEND=node and tfjs-node is not installed', async () => {
    await expect(chooseIn({ TFJS_BACKEND: 'node' })).rejects.toThrow(/TFJS_BACKEND=node could not be started/);
  });
});
