/**
 * One record of a batch file is bounded by the function's memory, not only by a file's 32 MiB
 * (lib/inputs/recordRoom.ts's recordLimit), as evaluate's are, in a 256 MB function's own process
 * (test/helpers/functionProcess.ts): a 33 MB line of words for the spam model is read and encoded
 * whole within 32 MiB, past what such a function holds. A JSON line too long is that row's error
 * (the rows around it are scored), a CSV record too long fails the file, as a record past 32 MiB does.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { uploadsInFunction } from '../helpers/functionProcess.js';
import { tempFolderStore } from '../helpers/stores.js';

const MB = 2 ** 20;
type Upload = { status: string; rows?: { read: number; scored: number; failed: number }; peakBytes: number };
const limit = (line: number) =>
  new RegExp(
    `^the record that starts on line ${line} is longer than [\\d.]+ MB, the longest this function can read as one record .*a 256 MB function.*; a function of at least \\d+ MB \\(serverless.yml's memorySize; AWS_LAMBDA_FUNCTION_MEMORY_SIZE outside Lambda\\) would read records up to 32 MiB$`,
  );

it('a 33 MB record is refused naming the longest record a 256 MB function reads, under 256 MB: a row error in JSON Lines, the file in CSV', async () => {
  const store = await tempFolderStore();
  const root = fileURLToPath(store.uri);
  await cp('models', root, { recursive: true });
  const text = 'free money '.repeat(3_000_000);
  await mkdir(path.join(root, 'batch', 'input', 'spam'), { recursive: true });
  const row = (words: string) => JSON.stringify({ text: words });
  await writeFile(path.join(root, 'batch', 'input', 'spam', 'long.jsonl'), `${row('hello')}\n${row(text)}\n${row('win a prize')}\n`);
  await writeFile(path.join(root, 'batch', 'input', 'spam', 'long.csv'), `text\nhello\n"${text}"\nwin a prize\n`);
  const [jsonl, csv] = await uploadsInFunction<Upload>(['batch/input/spam/long.jsonl', 'batch/input/spam/long.csv'], { storeUri: store.uri });
  const output = (name: string) => readFile(path.join(root, 'batch', 'output', 'spam', name), 'utf8');
  expect([jsonl.status, jsonl.rows]).toEqual(['succeeded', { read: 3, scored: 2, failed: 1 }]);
  const errors = (await output('long.jsonl.errors.jsonl'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(errors).toEqual([{ line: 2, error: expect.stringMatching(limit(2)) }]);
  expect(csv.status).toBe('failed');
  expect(JSON.parse(await output('long.csv.manifest.json')).error).toMatch(limit(3));
  for (const outcome of [jsonl, csv]) expect(outcome.peakBytes).toBeLessThan(256 * MB);
}, 120_000);
