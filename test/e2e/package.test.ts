import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('serverless package', () => {
  it('packages every function offline into its own small zip (bundle + wasm only)', async () => {
    // Prepare / Act: no AWS credentials are needed to package.
    const outDir = path.resolve('.serverless-test');
    await run(path.resolve('node_modules/.bin/serverless'), ['package', '--package', outDir], { env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    // Assess
    for (const fn of ['predict', 'metadata']) {
      const zip = (await stat(path.join(outDir, `${fn}.zip`))).size;
      const dir = path.resolve('dist', fn);
      const scripts = (await readdir(dir)).filter((file) => file.endsWith('.js'));
      const bundle = (await Promise.all(scripts.map(async (file) => (await stat(path.join(dir, file))).size))).reduce((a, b) => a + b, 0);
      expect(zip, fn).toBeLessThan(1024 * 1024);
      // Compressed, the zip still holds one bundle (index.js and its chunks) and the 425 KB wasm, not the whole repo.
      expect(zip, fn).toBeGreaterThan(300 * 1024);
      expect(zip, fn).toBeLessThan(bundle);
    }
  });
});
