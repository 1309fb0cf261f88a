/**
 * Batch scoring judges each row on its own (lib/batch/score.ts): a row is scored when it is a valid
 * natural instance or a valid raw tensor row, whatever its neighbours are, else it is a row error
 * naming its line and what is wrong. So the outputs of a file whose rows are of both forms (and of
 * neither) are the same, byte for byte, wherever micro-batches (BATCH_MAX_ROWS) and a sharded run's
 * ranges fall: through one function at several BATCH_MAX_ROWS values, and through `modelctl batch` with
 * 1, 2 and 4 workers. What is not a row's fault (a function that cannot run even one row) fails the
 * file whatever rows are beside it, and a micro-batch of more natural instances than the memory
 * budget encodes at once is scored, not refused whole.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Event } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { batch } from '../../cli/commands/batch.js';
import type { BatchManifest } from '../../lib/batch/state.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { serving } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let store: FolderStore;
let dir: string;

beforeAll(async () => {
  store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  dir = await mkdtemp(path.join(tmpdir(), 'batch-forms-'));
});

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const lines = async (file: string) => (await readFile(file, 'utf8')).trim().split('\n');

/**
 * Rows of every kind, in a pattern that does not repeat with the micro-batch sizes tested: natural
 * instances (by their columns and as `instance`), raw rows, raw rows of the wrong shape, rows that
 * are neither, a line that is not JSON. `kinds` makes the rows of each kind from the row's index.
 */
function mixed(count: number, kinds: ((i: number) => unknown)[]): string {
  const pattern = [0, 1, 1, 0, 2, 3, 0, 1, 4, 0, 0, 1, 5, 1, 0, 3, 2];
  const rows = Array.from({ length: count }, (_, i) => {
    const kind = pattern[i % pattern.length] % (kinds.length + 1);
    return kind === kinds.length ? '{not json' : JSON.stringify(kinds[kind](i));
  });
  return `${rows.join('\n')}\n`;
}

async function irisFile(): Promise<string> {
  const rows = (await lines('models/_datasets/iris-test.csv')).slice(1).map((line) => line.split(',').slice(0, 4).map(Number));
  const record = (i: number) => Object.fromEntries(FEATURES.map((name, j) => [name, rows[i % rows.length][j]]));
  return mixed(60, [
    record,
    (i) => ({ instance: rows[i % rows.length] }),
    (i) => ({ instance: record(i) }),
    (i) => ({ instance: rows[i % rows.length].slice(0, 3) }),
    (i) => ({ instance: i % 2 ? true : 'setosa' }),
  ]);
}

async function spamFile(): Promise<string> {
  const texts = (await lines('models/_datasets/spam-test.jsonl')).slice(0, 20).map((line) => (JSON.parse(line) as { text: string }).text);
  const bag = (i: number) => Array.from({ length: 1000 }, (_, j) => ((i * 7 + j) % 11 === 0 ? 1 : 0));
  return mixed(50, [
    (i) => ({ text: texts[i % texts.length] }),
    (i) => ({ instance: bag(i) }),
    (i) => ({ instance: texts[(i + 3) % texts.length] }),
    (i) => ({ instance: bag(i).slice(0, 10) }),
    (i) => ({ instance: i % 2 ? { words: 3 } : null }),
  ]);
}

async function digitsFile(): Promise<string> {
  const images = (await lines('models/_datasets/digits-test.jsonl')).slice(0, 10).map((line) => (JSON.parse(line) as { image: unknown }).image);
  const pixels = (i: number) => Array.from({ length: 28 }, (_, y) => Array.from({ length: 28 }, (_, x) => [((x * y + i) % 17) / 17]));
  return mixed(24, [
    (i) => ({ image: images[i % images.length] }),
    (i) => ({ instance: pixels(i) }),
    (i) => ({ instance: images[(i + 1) % images.length] }),
    (i) => ({ instance: pixels(i).slice(0, 27) }),
    (i) => ({ instance: i % 2 ? 7 : { words: 3 } }),
  ]);
}

function putEvent(key: string): S3Event {
  return { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key } } }] } as unknown as S3Event;
}

interface Outputs {
  manifest: BatchManifest;
  predictions: string;
  errors: string;
}

/** A run through one function (the batchScore handler), with these settings. */
async function single(model: string, name: string, body: string, env: Record<string, string>): Promise<Outputs> {
  const key = `batch/input/${model}/${name}`;
  await store.put(key, body);
  await serving(store.uri, env).batchScore(putEvent(key));
  const text = async (suffix: string) => new TextDecoder().decode(await store.get(`batch/output/${model}/${name}.${suffix}`));
  const manifest = JSON.parse(await text('manifest.json')) as BatchManifest;
  return {
    manifest,
    predictions: manifest.status === 'succeeded' ? await text('predictions.jsonl') : '',
    errors: manifest.status === 'succeeded' ? await text('errors.jsonl') : '',
  };
}

const errorsOf = (outputs: Outputs) =>
  outputs.errors
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { line: number; error: string });

describe.each([
  { model: 'iris', file: irisFile, count: 60, rangeBytes: '300' },
  { model: 'spam', file: spamFile, count: 50, rangeBytes: '6000' },
  { model: 'digits', file: digitsFile, count: 24, rangeBytes: '8000' },
])('$model: a JSON Lines file of natural instances, raw rows and rows of neither form, interleaved', ({ model, file, count, rangeBytes }) => {
  let body: string;
  let reference: Outputs;
  beforeAll(async () => {
    body = await file();
    reference = await single(model, 'mixed-2048.jsonl', body, {});
  });

  it('each row is judged on its own: the same outputs at BATCH_MAX_ROWS 1, 2, 3 and 2048', async () => {
    expect(reference.manifest.status).toBe('succeeded');
    const errors = errorsOf(reference);
    const scored = reference.predictions.trim().split('\n').length;
    expect(reference.manifest.rows).toEqual({ read: count, scored, failed: errors.length });
    // Of every 17 rows, 5 are refused: a raw row of the wrong shape, one of neither form (2), a line that is not JSON (2 in 17 at most).
    expect(scored).toBeGreaterThan(count / 2);
    // A row's `instance` field is named as the column its problem is in.
    const help = new RegExp(`^(instance )?is neither an instance model ${model} takes nor a raw tensor row: send every instance as `);
    const kinds = errors.map(({ error }) =>
      help.test(error) ? 'neither' : error === 'not valid JSON' ? 'not JSON' : /^(instance: )?input \w+: shape \[1,[\d,]+\] does not fit the model's/.test(error) ? 'shape' : error,
    );
    expect(new Set(kinds)).toEqual(new Set(['neither', 'not JSON', 'shape']));
    for (const maxBatch of [1, 2, 3]) {
      const run = await single(model, `mixed-${maxBatch}.jsonl`, body, { BATCH_MAX_ROWS: String(maxBatch) });
      expect(run.predictions).toBe(reference.predictions);
      expect(run.errors).toBe(reference.errors);
      expect(run.manifest.rows).toEqual(reference.manifest.rows);
    }
  }, 60_000);

  it.each([1, 2, 4])(
    'modelctl batch --workers %i, ranges of a few rows: the outputs of the run through one function',
    async (workers) => {
      const source = path.join(dir, `${model}.jsonl`);
      await writeFile(source, body);
      const out = await mkdtemp(path.join(tmpdir(), 'batch-forms-out-'));
      const manifest = await batch(serving(store.uri).services, source, { model, workers: String(workers), out, rangeBytes });
      expect(manifest.status).toBe('succeeded');
      expect(manifest.invocations).toBeGreaterThan(3);
      expect(await readFile(path.join(out, `${model}.jsonl.predictions.jsonl`), 'utf8')).toBe(reference.predictions);
      expect(await readFile(path.join(out, `${model}.jsonl.errors.jsonl`), 'utf8')).toBe(reference.errors);
      expect(manifest.rows).toEqual(reference.manifest.rows);
    },
    120_000,
  );
});

describe('the memory budget, wherever micro-batches fall (digits: 3 KB of input a row, 41 KB of activations)', () => {
  it('more natural instances than the budget encodes at once are scored a chunk at a time (64 rows a micro-batch failed the file with a 413)', async () => {
    const body = `${(await lines('models/_datasets/digits-test.jsonl')).slice(0, 40).join('\n')}\n`;
    const budget = { MEMORY_BUDGET_BYTES: '100000' };
    const one = await single('digits', 'budget-1.jsonl', body, { ...budget, BATCH_MAX_ROWS: '1' });
    expect(one.manifest.rows).toEqual({ read: 40, scored: 40, failed: 0 });
    const many = await single('digits', 'budget-64.jsonl', body, { ...budget, BATCH_MAX_ROWS: '64' });
    expect(many.manifest.error).toBeUndefined();
    expect(many.predictions).toBe(one.predictions);
  }, 60_000);

  it('a function that cannot run even one row fails the file with the 413 naming it, whatever rows are beside each (a micro-batch of both forms made each row "could not be scored")', async () => {
    const images = (await lines('models/_datasets/digits-test.jsonl')).slice(0, 4);
    const raw = JSON.stringify({ instance: Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0.5])) });
    const body = `${images.flatMap((line) => [line, raw]).join('\n')}\n`;
    for (const maxBatch of ['1', '8']) {
      const run = await single('digits', `tiny-${maxBatch}.jsonl`, body, { MEMORY_BUDGET_BYTES: '36000', BATCH_MAX_ROWS: maxBatch });
      expect(run.manifest).toMatchObject({ status: 'failed', rows: { read: 0, scored: 0, failed: 0 } });
      expect(run.manifest.error).toMatch(
        /^one row of a forward pass through digits:1 (needs|may need up to) \d+ KB( \(an estimate from its layers: not yet measured\))?; this function can give 36 KB \(MEMORY_BUDGET_BYTES\): no request fits/,
      );
    }
  }, 60_000);
});

describe('a lone number where a row holds many values', () => {
  it("is no raw row: spam's text column holding 5 is named as neither form, not as a tensor of shape [1]", async () => {
    const outputs = await single('spam', 'number.jsonl', '{"text":"win money now"}\n{"text":5}\n', {});
    expect(errorsOf(outputs)).toEqual([
      { line: 2, error: expect.stringMatching(/^text is neither an instance model spam takes nor a raw tensor row: send every instance as a string/) },
    ]);
    expect(outputs.predictions.trim().split('\n')).toHaveLength(1);
  });
});
