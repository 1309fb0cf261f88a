/**
 * `modelctl batch` on image rows: JPEGs (baseline, progressive, greyscale, CMYK, one cut short), a
 * PNG, scored by the worker processes (cli/batchWorker.ts bundled as CommonJS by cli/workerBundle.ts)
 * give the outputs of the run through one function, byte for byte: on this node, and on Node 22
 * (Lambda's major version) with modelctl itself run by it. The worker once got the JPEG decoder's
 * module namespace instead of its function (an ES module required from CommonJS), and every JPEG
 * row failed the run with "internal error".
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { batch } from '../../cli/commands/batch.js';
import { scoreObject } from '../../lib/batch/run.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { node22 } from '../../scripts/local/node22.js';
import { oneInvocation } from '../helpers/batchOptions.js';
import { serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const run = promisify(execFile);
const NAME = 'images.jsonl';

let app: App;
let store: FolderStore;
let file: string;
let reference: { predictions: Buffer; errors: Buffer; rows: unknown };

async function imageRows(): Promise<string> {
  const png = await readFile('examples/seven.png');
  const rgba = PNG.sync.read(png);
  const seven = Buffer.from(jpeg.encode({ data: rgba.data, width: rgba.width, height: rgba.height }, 90).data);
  const fixtures = await Promise.all(['progressive-420.jpg', 'grey.jpg', 'cmyk.jpg'].map((name) => readFile(path.join('test/fixtures/jpeg', name))));
  const images = [seven, ...fixtures, png, seven.subarray(0, Math.floor(seven.length / 2))];
  return `${images.map((bytes) => JSON.stringify({ b64: bytes.toString('base64') })).join('\n')}\n`;
}

/** The three outputs a finished run wrote into `out`. */
async function outputs(out: string) {
  return {
    predictions: await readFile(path.join(out, `${NAME}.predictions.jsonl`)),
    errors: await readFile(path.join(out, `${NAME}.errors.jsonl`)),
    manifest: JSON.parse(await readFile(path.join(out, `${NAME}.manifest.json`), 'utf8')),
  };
}

beforeAll(async () => {
  app = serving('file://models');
  store = await tempFolderStore();
  const body = await imageRows();
  file = path.join(await mkdtemp(path.join(tmpdir(), 'batch-images-')), NAME);
  await writeFile(file, body);
  const key = `batch/input/digits/${NAME}`;
  await store.put(key, body);
  const outcome = await scoreObject(store, app.services.loader, key, oneInvocation(64));
  expect(outcome.status).toBe('succeeded');
  const base = `batch/output/digits/${NAME}`;
  reference = {
    predictions: Buffer.from(await store.get(`${base}.predictions.jsonl`)),
    errors: Buffer.from(await store.get(`${base}.errors.jsonl`)),
    rows: outcome.manifest?.rows,
  };
  expect(reference.rows).toEqual({ read: 6, scored: 5, failed: 1 }); // the JPEG cut short is the one error
  expect(JSON.parse(reference.predictions.toString('utf8').split('\n')[0]).label).toBe('7');
}, 60_000);

describe('modelctl batch with JPEG and PNG rows: the outputs of the run through one function', () => {
  it('on this node', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'batch-images-out-'));
    const manifest = await batch(app.services, file, { model: 'digits', workers: '1', out });
    expect(manifest.status).toBe('succeeded');
    const written = await outputs(out);
    expect(written.predictions.equals(reference.predictions)).toBe(true);
    expect(written.errors.equals(reference.errors)).toBe(true);
    expect(written.manifest.rows).toEqual(reference.rows);
  }, 120_000);

  it('on Node 22, modelctl and its workers run by it', async () => {
    const node = await node22();
    const out = await mkdtemp(path.join(tmpdir(), 'batch-images-out-'));
    const { MODEL_STORE_URI: _store, ...env } = process.env;
    await run(node, [path.resolve('bin/modelctl.js'), 'batch', file, '--model', 'digits', '--workers', '1', '--out', out], { env });
    const written = await outputs(out);
    expect(written.manifest.status).toBe('succeeded');
    expect(written.predictions.equals(reference.predictions)).toBe(true);
    expect(written.errors.equals(reference.errors)).toBe(true);
    expect(written.manifest.rows).toEqual(reference.rows);
  }, 180_000);
});

it('a row whose only field is not an image says it was read as the image for want of an image column, and which columns those are', async () => {
  const png = (await readFile('examples/seven.png')).toString('base64');
  const key = 'batch/input/digits/ids.jsonl';
  await store.put(key, `${JSON.stringify({ id: 'nofield' })}\n${JSON.stringify({ image: png })}\n${JSON.stringify({ id: 'x', image: 'not base64 png' })}\n`);
  const outcome = await scoreObject(store, app.services.loader, key, oneInvocation(64));
  expect(outcome.status).toBe('succeeded');
  const errors = Buffer.from(await store.get('batch/output/digits/ids.jsonl.errors.jsonl'))
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(errors.map((e) => e.line)).toEqual([1, 3]);
  expect(errors[0].error).toMatch(/^id \(the row's only column, so read as the image: it is read from column image or b64 when there is one\): .*not a PNG or JPEG image/);
  // A row with an image column names that column alone.
  expect(errors[1].error).toMatch(/^image: /);
});
