/**
 * Batch scoring of a tabular CSV takes the columnar path (cells straight into one input array per
 * batch, papaparse through lib/inputs/csvRecords.ts). Checked against independent references on a
 * file made to be awkward: a byte-order mark, CRLF line breaks, quoted cells with commas, line
 * breaks and non-ASCII text, quoted and space-padded numbers, blank lines and bad rows:
 * - csv-parse (another parser) reads the input and the output: each output row is its input
 *   row's cells plus the label and score that POST :predict answers for the same record by name;
 *   each bad row is in the error file with csv-parse's line number and :predict's own message;
 * - a run cut into an invocation per batch (byte offsets and line numbers carried in the
 *   checkpoint across multi-byte characters) writes the same bytes as an uninterrupted one.
 */
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { scoreObject, type BatchOptions } from '../../lib/batch/run.js';
import { oneInvocation } from '../helpers/batchOptions.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const ROWS = 300;

/**
 * Rows that vary in every way a CSV can; every 41st has a bad feature, every 43rd an empty one.
 * The line break inside quoted notes is \n alone: csv-parse counts a quoted \r\n as two lines.
 */
function awkwardCsv(): string {
  const lines = [`\uFEFF${FEATURES.join(',')},note`];
  for (let i = 0; i < ROWS; i += 1) {
    const cells = [4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 25) / 10].map(String);
    if (i % 5 === 0) cells[1] = `"${cells[1]}"`;
    if (i % 6 === 0) cells[2] = ` ${cells[2]} `;
    if (i % 41 === 0) cells[0] = 'wide';
    if (i % 43 === 0) cells[3] = '';
    const note = i % 3 === 0 ? `"fleur n° ${i}, ""quoted""\nsecond line 🌸"` : `n${i}`;
    lines.push(`${cells.join(',')},${note}`);
    if (i % 97 === 0) lines.push('');
  }
  return `${lines.join('\r\n')}\r\n`;
}

let app: App;
let store: FolderStore;

async function run(key: string, options: Partial<BatchOptions> = {}) {
  const base = oneInvocation(16);
  let outcome = await scoreObject(store, app.services.loader, key, { ...base, ...options });
  while (outcome.status === 'continued') outcome = await scoreObject(store, app.services.loader, key, { ...base, ...options, resume: outcome.run });
  expect(outcome.status).toBe('succeeded');
  const out = key.replace('batch/input/', 'batch/output/');
  return {
    manifest: outcome.manifest,
    predictions: Buffer.from(await store.get(`${out}.predictions.csv`)),
    errors: Buffer.from(await store.get(`${out}.errors.jsonl`)),
  };
}

beforeAll(async () => {
  store = await tempFolderStore();
  app = serving('file://models');
  await store.put('batch/input/iris/awkward.csv', awkwardCsv());
  await store.put('batch/input/iris/awkward-cut.csv', awkwardCsv());
});

describe('a tabular CSV on the columnar path', () => {
  let whole: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    whole = await run('batch/input/iris/awkward.csv');
  });

  it('answers each row as :predict answers its record, and keeps its cells as they were', async () => {
    const input = parse(awkwardCsv(), { bom: true, info: true, skip_empty_lines: true }) as unknown as { record: string[]; info: { lines: number } }[];
    const [header, ...records] = input;
    const output = parse(whole.predictions.toString('utf8')) as string[][];
    expect(output[0]).toEqual([...header.record, 'label', 'score']);
    const errors = whole.errors
      .toString('utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { line: number; error: string });
    let scored = 1;
    let failed = 0;
    for (const { record, info } of records) {
      const instance = Object.fromEntries(FEATURES.map((name, j) => [name, record[j].trim() !== '' && Number.isFinite(Number(record[j])) ? Number(record[j]) : record[j]]));
      const answer = await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [instance] });
      if (answer.statusCode === 200) {
        const [label, score] = output[scored].slice(-2);
        expect(output[scored].slice(0, -2)).toEqual(record);
        expect(label).toBe(answer.body.predictions[0].label);
        expect(Number(score)).toBeCloseTo(answer.body.predictions[0].score, 6);
        scored += 1;
      } else {
        expect(answer.statusCode).toBe(400);
        expect(errors[failed]).toEqual({ line: info.lines, error: answer.body.error.replace(/^instances\[0\]: /, '') });
        failed += 1;
      }
    }
    expect(scored - 1 + failed).toBe(ROWS);
    expect(failed).toBeGreaterThan(10);
    expect(output).toHaveLength(scored);
    expect(errors).toHaveLength(failed);
    expect(whole.manifest?.rows).toEqual({ read: ROWS, scored: scored - 1, failed });
  });

  it('writes the same bytes when cut into an invocation per batch', async () => {
    const cut = await run('batch/input/iris/awkward-cut.csv', { marginMs: 1, remainingMs: () => 0 });
    expect(cut.manifest?.invocations).toBeGreaterThan(ROWS / 16);
    expect(cut.predictions.equals(whole.predictions)).toBe(true);
    expect(cut.errors.equals(whole.errors)).toBe(true);
  });

  it('refuses a row with the wrong number of cells with its line, and writes no outputs', async () => {
    await store.put('batch/input/iris/short.csv', `${FEATURES.join(',')}\n5.1,3.5,1.4,0.2\n"6.7,\n3.0",5.2\n`);
    const outcome = await scoreObject(store, app.services.loader, 'batch/input/iris/short.csv', oneInvocation(16));
    expect(outcome.manifest).toMatchObject({ status: 'failed', error: 'the CSV is malformed near line 4: 2 fields where the header has 4' });
    expect(await store.head('batch/output/iris/short.csv.predictions.csv')).toBeUndefined();
  });
});

describe('a CSV for a model whose instance is not a row of numbers (text)', () => {
  it('is scored as row objects, each row answered as :predict answers it, its text kept as it was', async () => {
    const mails = ['free money, click now!!!', 'meeting moved to 3pm\nsee you there', 'Ünïcode "quotes" and, commas', 'WIN a prize today', ''];
    const body = `id,text\r\n${mails.map((text, i) => `${i},"${text.replace(/"/g, '""')}"`).join('\r\n')}\r\n`;
    await store.put('batch/input/spam/mails.csv', body);
    const outcome = await scoreObject(store, app.services.loader, 'batch/input/spam/mails.csv', oneInvocation(2));
    expect(outcome.status).toBe('succeeded');
    const output = Buffer.from(await store.get('batch/output/spam/mails.csv.predictions.csv')).toString('utf8');
    const rows = parse(output) as string[][];
    expect(rows[0]).toEqual(['id', 'text', 'label', 'score']);
    for (const [i, text] of mails.entries()) {
      const answer = await call(app.predict, 'POST', '/v1/models/spam:predict', { instances: [{ text }] });
      expect(answer.statusCode).toBe(200);
      expect(rows[i + 1].slice(0, 2)).toEqual([String(i), text]);
      expect(rows[i + 1][2]).toBe(answer.body.predictions[0].label);
      expect(Number(rows[i + 1][3])).toBeCloseTo(answer.body.predictions[0].score, 6);
    }
    // Each record as it was in the file (quotes and all), then the answer's cells; row 1 spans two lines.
    expect(output.split('\n')[4].startsWith(`2,"Ünïcode ""quotes"" and, commas",`)).toBe(true);
  });
});

describe('a header whose names are padded with spaces (a spreadsheet\'s "a, b" export)', () => {
  it('is read with its names trimmed, as evaluate reads it: each row answered as :predict answers its record, cut into an invocation per batch or not', async () => {
    const flowers = [
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.0, 5.2, 2.3],
      [5.9, 3.0, 4.2, 1.5],
    ];
    const body = `\uFEFF sepal_length , sepal_width,"petal_length ",\tpetal_width, label\r\n${flowers.map((f) => `${f.join(',')},x`).join('\r\n')}\r\n`;
    await store.put('batch/input/iris/padded.csv', body);
    await store.put('batch/input/iris/padded-cut.csv', body);
    const whole = await run('batch/input/iris/padded.csv');
    const cut = await run('batch/input/iris/padded-cut.csv', { marginMs: 1, remainingMs: () => 0 });
    expect(cut.predictions.equals(whole.predictions)).toBe(true);
    const output = parse(whole.predictions.toString('utf8')) as string[][];
    // The answer's columns are renamed past the file's own (trimmed) `label`.
    expect(output[0]).toEqual([...FEATURES, 'label', 'predicted_label', 'predicted_score']);
    for (const [i, f] of flowers.entries()) {
      const answer = await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [Object.fromEntries(FEATURES.map((name, j) => [name, f[j]]))] });
      expect(output[i + 1].slice(-2)).toEqual([answer.body.predictions[0].label, String(answer.body.predictions[0].score)]);
    }
    expect(whole.manifest?.rows).toEqual({ read: 3, scored: 3, failed: 0 });

    // A text model finds its ` text ` column the same way.
    await store.put('batch/input/spam/padded.csv', 'id , text \n1,WIN a FREE prize now\n');
    const mails = await scoreObject(store, app.services.loader, 'batch/input/spam/padded.csv', oneInvocation(16));
    expect(mails.manifest?.rows).toEqual({ read: 1, scored: 1, failed: 0 });
    const answer = await call(app.predict, 'POST', '/v1/models/spam:predict', { instances: ['WIN a FREE prize now'] });
    const [, row] = parse(Buffer.from(await store.get('batch/output/spam/padded.csv.predictions.csv')).toString('utf8')) as string[][];
    expect(row.slice(-2)).toEqual([answer.body.predictions[0].label, String(answer.body.predictions[0].score)]);
  });
});
