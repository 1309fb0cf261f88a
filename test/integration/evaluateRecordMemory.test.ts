/**
 * One record of a data set is bounded by the function's memory, not only by a file's 32 MiB
 * (lib/inputs/recordRoom.ts's recordLimit), in a 256 MB function's own process
 * (test/helpers/functionProcess.ts): a JSON line of 33 MB of words for the spam model took it to
 * 374 MB while it was read and encoded, and the evaluation answered 200.
 */
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { requestsInFunction } from '../helpers/functionProcess.js';
import { b64, pngBytes } from '../helpers/images.js';
import { writeConvImageModel } from '../helpers/tinyModels.js';
import { tempFolderStore } from '../helpers/stores.js';

const MB = 2 ** 20;
type Outcome = { status: number; error?: string; peakBytes: number };

it('a 33 MB record is a 413 naming the longest record this function reads, in JSON Lines and CSV, under 256 MB; the function answers on', async () => {
  const store = await tempFolderStore();
  const root = fileURLToPath(store.uri);
  await cp('models', root, { recursive: true });
  const text = 'free money '.repeat(3_000_000);
  await writeFile(path.join(root, '_datasets', 'long.jsonl'), `${JSON.stringify({ text, label: 'spam' })}\n`);
  await writeFile(path.join(root, '_datasets', 'long.csv'), `text,label\n"${text}",spam\n`);
  const evaluate = (dataset: string) => ({ path: '/v2/models/spam/evaluate', body: { dataset } });
  const outcomes = await requestsInFunction<Outcome>('evaluate', [evaluate('_datasets/long.jsonl'), evaluate('_datasets/long.csv'), evaluate('_datasets/spam-test.jsonl')], {
    storeUri: store.uri,
    env: { PEAK_CHILD_BODY: '0' },
  });
  const [jsonl, csv, after] = outcomes;
  for (const refused of [jsonl, csv]) {
    expect(refused.status, refused.error).toBe(413);
    expect(refused.error).toMatch(
      /^the record that starts on line [12] is longer than [\d.]+ MB, the longest this function can read as one record .*a 256 MB function.*; a function of at least \d+ MB \(serverless.yml's memorySize; AWS_LAMBDA_FUNCTION_MEMORY_SIZE outside Lambda\) would read records up to 32 MiB$/,
    );
  }
  for (const outcome of outcomes) expect(outcome.peakBytes).toBeLessThan(256 * MB);
  expect(after.status, after.error).toBe(200);
}, 60_000);

it('a data set of a model of which not even one row fits is a 413 naming what one row needs, not its header as a record too long', async () => {
  // nsfw in 256 MB: "the record that starts on line 1 is longer than 0.0 MB", of a 12-byte header.
  const store = await tempFolderStore();
  const input = { kind: 'image', width: 1024, height: 1024, channels: 3 };
  await pushModelFolder(store, await writeConvImageModel(1024, 1024, 3), 'huge', { labels: ['a', 'b'], transforms: { input } });
  const photo = b64(pngBytes(4, 4, () => [200, 100, 50, 255])).b64;
  await writeFile(path.join(fileURLToPath(store.uri), 'photos.csv'), `image,label\n${photo},a\n`);
  const [refused] = await requestsInFunction<Outcome>('evaluate', [{ path: '/v2/models/huge/evaluate', body: { dataset: 'photos.csv' } }], {
    storeUri: store.uri,
    env: { PEAK_CHILD_BODY: '0' },
  });
  expect(refused.status, refused.error).toBe(413);
  expect(refused.error).not.toMatch(/the record that starts on line/);
  expect(refused.error).toMatch(/a function of at least \d+ MB \(serverless.yml's memorySize; AWS_LAMBDA_FUNCTION_MEMORY_SIZE outside Lambda\)/);
  expect(refused.peakBytes).toBeLessThan(256 * MB);
}, 60_000);
