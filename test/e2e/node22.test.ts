/**
 * The bundles on Node 22, the major version of Lambda's nodejs22.x runtime (this machine's node may
 * be older): the predict bundle answers, and with NODE_COMPILE_CACHE (which serverless.yml sets)
 * its first start fills the cache with our code's compiled form and the next start answers the same
 * from it. Node 22 comes from tools/node22 (scripts/local/node22.ts), installed on first use.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { node22 } from '../../scripts/local/node22.js';

const run = promisify(execFile);
let node: string;

beforeAll(async () => {
  node = await node22();
}, 180_000);

const IRIS = { path: '/v1/models/iris:predict', body: JSON.stringify({ instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] }) };

async function coldStart(env: Record<string, string>, request = IRIS, binary = node): Promise<{ statusCode: number; body: unknown }> {
  const { stdout } = await run(
    binary,
    [path.resolve('bench/children/coldStart.mjs'), path.resolve('dist/predict/index.js'), path.resolve('dist/metadata/index.js'), request.path, request.body],
    {
      env: { ...process.env, MODEL_STORE_URI: `file://${path.resolve('models')}`, ...env },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const [answer, backend] = stdout
    .split('\n')
    .filter((l) => l.startsWith('BENCH '))
    .map((l) => JSON.parse(l.slice(6)));
  expect(backend).toEqual({ backend: 'wasm' });
  return { statusCode: answer.statusCode, body: answer.body };
}

describe('the predict bundle on Node 22', () => {
  it('runs as Lambda would run it, and its compile cache fills and is reused with the same answer', async () => {
    expect((await run(node, ['--version'])).stdout.trim()).toMatch(/^v22\./);
    const cache = await mkdtemp(path.join(tmpdir(), 'compile-cache-'));
    const first = await coldStart({ NODE_COMPILE_CACHE: cache });
    expect(first.statusCode).toBe(200);
    const files = await readdir(cache, { recursive: true });
    expect(files.length).toBeGreaterThan(0);
    const second = await coldStart({ NODE_COMPILE_CACHE: cache });
    expect(second).toEqual(first);
    expect(await coldStart({})).toEqual(first);
  }, 120_000);
});

describe('JPEG decoding in the bundle (libjpeg-turbo compiled to wasm, found beside the bundle)', () => {
  it('answers a JPEG on Node 22 as on this node', async () => {
    const png = PNG.sync.read(await readFile('examples/seven.png'));
    const bytes = jpeg.encode({ data: png.data, width: png.width, height: png.height }, 90).data;
    const request = { path: '/v1/models/digits:predict', body: JSON.stringify({ instances: [{ b64: Buffer.from(bytes).toString('base64') }] }) };
    const on22 = await coldStart({}, request);
    expect(on22.statusCode).toBe(200);
    expect((on22.body as { predictions: { label: string }[] }).predictions[0].label).toBe('7');
    expect(await coldStart({}, request, process.execPath)).toEqual(on22);
  }, 120_000);
});
