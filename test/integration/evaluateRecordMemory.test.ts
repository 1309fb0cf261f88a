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
import { requestsInFunction } from '../helpers/functionProcess.js';
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
      /^the record that starts on line [12] is longer than [\d.]+ MB, the longest this function can read as one record .*a 256 MB function.*; a function of at least \d+ MB \(AWS_LAMBDA_FUNCTION_MEMORY_SIZE\) would read records up to 32 MiB$/,
    );
  }
  for (const outcome of outcomes) expect(outcome.peakBytes).toBeLessThan(256 * MB);
  expect(after.status, after.error).toBe(200);
}, 60_000);
