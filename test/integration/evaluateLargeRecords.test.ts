/**
 * Evaluating a data file of large records (base64 photos) in a small function: a chunk's records
 * are held until it is encoded, so a chunk is bounded by their bytes too (lib/inputs/recordRoom.ts),
 * not only by MAX_BATCH rows and the model input they make. Twenty rows of a 1024 x 1024 noise PNG
 * (3.6 MB each, 4.8 MB as base64) read into one chunk left a 320 MB function too little to decode
 * the second of them: a 413 ("line 2: image is 1024x1024 ... takes 48.6 MB at its peak; this
 * function can give 25 MB") for rows that fit a few at a time. Each bundle runs in a process of its own, as in
 * Lambda (test/helpers/peakRssChild.mjs).
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { uniform } from '../../lib/random.js';
import { requestsInFunction } from '../helpers/functionProcess.js';
import { b64, pngBytes } from '../helpers/images.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeImageModel } from '../helpers/tinyModels.js';

const MB = 2 ** 20;
const _run = promisify(execFile);
const ROWS = 20;
let storeUri: string;

beforeAll(async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeImageModel(224, 224, 3), 'wide', { labels: ['a', 'b'], transforms: { input: { kind: 'image', width: 224, height: 224, channels: 3 } } });
  // Noise does not compress: the PNG is about as large as its pixels.
  const random = uniform(27);
  const byte = () => Math.floor(random() * 256);
  const photo = b64(pngBytes(1024, 1024, () => [byte(), byte(), byte(), 255]));
  const lines = Array.from({ length: ROWS }, (_, i) => JSON.stringify({ image: photo, label: i % 2 ? 'a' : 'b' }));
  const folder = path.join(fileURLToPath(store.uri), '_datasets');
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'noisy.jsonl'), `${lines.join('\n')}\n`);
  storeUri = store.uri;
}, 30_000);

type Outcome = { status: number; error?: string; peakBytes: number; body?: { count: number; metrics: Record<string, number> } };

/** The evaluate bundle's answer to the noisy data set, in a function of `megabytes`. */
async function evaluateIn(megabytes: number): Promise<Outcome> {
  const [answer] = await requestsInFunction<Outcome>('evaluate', [{ path: '/v2/models/wide/evaluate', body: { dataset: '_datasets/noisy.jsonl' } }], {
    storeUri,
    megabytes,
    env: { PEAK_CHILD_BODY: '1' },
  });
  return answer;
}

it('evaluates large-image rows a few at a time in a small function, with the metrics of a large one', async () => {
  const [small, large] = [await evaluateIn(320), await evaluateIn(2048)];
  expect(large.status, large.error).toBe(200);
  expect(small.status, small.error).toBe(200);
  expect(small.body?.count).toBe(ROWS);
  expect(small.body?.metrics).toEqual(large.body?.metrics);
  expect(small.peakBytes).toBeLessThan(320 * MB);
}, 60_000);
