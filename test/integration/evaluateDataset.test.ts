/**
 * Evaluate's data-set files on the row path (lib/ops/evaluate/dataset.ts: models whose instance is
 * not a row of numbers, such as the text model spam; and fine-tune's data), through the HTTP
 * handler and through modelctl evaluate:
 * - a row is named by the line batch scoring's errors file gives it (the same reader, the same
 *   count: quoted line breaks and blank lines included), which the columnar path gives too;
 * - a CSV's cells are text, as batch reads them: a text cell that looks like a number stays text;
 *   numbers are read where the model wants them (tabular features, a regression target, digits'
 *   label 4 compared as "4");
 * - a JSON Lines file that starts with a byte-order mark is read, and one that is not UTF-8 refused,
 *   as batch reads it;
 * - the demo models' held-out sets still give their manifests' metrics, in either format.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { runModelctl } from '../helpers/modelctl.js';
import { readDataset } from '../../lib/ops/evaluate/dataset.js';
import { exampleFromRow } from '../../lib/ops/evaluate/examples.js';
import { parseModelRef } from '../../lib/registry/index.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const modelctl = (...args: string[]) => runModelctl(args);

let store: FolderStore;
let app: App;
let folder: string;

beforeAll(async () => {
  store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  app = serving(store.uri);
  folder = await mkdtemp(path.join(tmpdir(), 'evaluate-data-'));
});

/** The data set both ways: the HTTP handler (the file in the model store) and modelctl (a file anywhere). */
async function bothWays(model: string, name: string, text: string | Buffer, labelColumn = 'label') {
  await store.put(`_datasets/${name}`, text);
  await writeFile(path.join(folder, name), text);
  const http = await call(app.evaluate, 'POST', `/v2/models/${model}/evaluate`, { dataset: `_datasets/${name}`, labelColumn });
  const cli = await modelctl('evaluate', model, '--data', path.join(folder, name), '--label-column', labelColumn, '--json');
  return { http, cli };
}

describe('a row is named by its line in the file', () => {
  it('past quoted line breaks and blank lines (the user report: line 7, not record 3)', async () => {
    const { http, cli } = await bothWays('spam', 'lines.csv', 'text,label\n"first\nsecond\nthird",ham\n\n\nhello,hamm\n');
    expect(http.statusCode).toBe(400);
    expect(http.body.error).toMatch(/^line 7, label: "hamm" is not one of the model's labels/);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^modelctl: line 7, label: "hamm" is not one of the model's labels/m);
  });

  it('a record that spans lines is named as batch scoring names it (csv-parse counts the same line), on both evaluate paths', async () => {
    const text = 'note,sepal_length,sepal_width,petal_length,petal_width,species\n\n"a\nb",5.1,3.5,1.4,0.2,setosa\n\n"one, ""two""\nthree\nfour",4.9,3.0,1.4,0.2,rose\n';
    const records = parse(text, { info: true, skip_empty_lines: true }) as unknown as { record: string[]; info: { lines: number } }[];
    const expected = records.find((r) => r.record.includes('rose'))?.info.lines;
    expect(expected).toBe(8);
    // Columnar (tabular CSV): what POST .../evaluate answers for iris.
    await store.put('_datasets/spans.csv', text);
    const columnar = await call(app.evaluate, 'POST', '/v2/models/iris/evaluate', { dataset: '_datasets/spans.csv', labelColumn: 'species' });
    expect(columnar.body.error).toMatch(new RegExp(`^line ${expected}, species: "rose"`));
    // The row path on the same file (fine-tune reads data sets this way).
    const rowPath = app.services.loader.withModel(parseModelRef('iris'), async (loaded) => {
      for await (const row of readDataset(store, '_datasets/spans.csv', 'csv')) exampleFromRow(loaded.manifest, row, 'species', () => []);
    });
    await expect(rowPath).rejects.toThrow(new RegExp(`^line ${expected}, species: "rose"`));
    // And the text model's row path.
    const spam = await bothWays('spam', 'spans.csv', 'text,label\n\n"a\nb",ham\n\n"one, ""two""\nthree\nfour",hamm\n');
    expect(spam.http.body.error).toMatch(new RegExp(`^line ${expected}, label: "hamm"`));
    expect(spam.cli.stderr).toMatch(new RegExp(`^modelctl: line ${expected}, label: "hamm"`, 'm'));
  });

  it('a row with another number of fields than the header: malformed, with its line', async () => {
    const { http, cli } = await bothWays('spam', 'short.csv', 'text,label\nhello,ham\n\n"a\nb"\n');
    expect(http.statusCode).toBe(400);
    expect(http.body.error).toBe('the CSV is malformed near line 5: 1 fields where the header has 2');
    expect(cli.stderr).toMatch(/^modelctl: the CSV is malformed near line 5: 1 fields where the header has 2$/m);
  });
});

describe('a header that names a column twice', () => {
  it('is a 400 naming the column, on both evaluate paths (columnar: iris; rows: spam), not a column silently dropped', async () => {
    const { http, cli } = await bothWays('iris', 'twice.csv', 'sepal_length,sepal_length,sepal_width,petal_length,petal_width,label\n1,1,2,3,4,setosa\n');
    const message = 'the CSV header names column "sepal_length" twice (columns 1 and 2): each column needs a name of its own';
    expect(http.statusCode).toBe(400);
    expect(http.body.error).toBe(message);
    expect(cli.stderr).toContain(`modelctl: ${message}`);
    await store.put('_datasets/spam-twice.csv', 'text,label,text\nhello,ham,free money\n');
    const spam = await call(app.evaluate, 'POST', '/v2/models/spam/evaluate', { dataset: '_datasets/spam-twice.csv' });
    expect(spam.statusCode).toBe(400);
    expect(spam.body.error).toMatch(/^the CSV header names column "text" twice \(columns 1 and 3\)/);
  });
});

describe("a CSV's cells are text, read as numbers only where the model wants numbers", () => {
  it('a text cell that looks like a number stays text, and is not trimmed', async () => {
    const texts = ['hello there', '42', '  3.5e2  ', '0x10', ' free money, click now ', '-7'];
    const labels = ['ham', 'ham', 'spam', 'ham', 'spam', 'ham'];
    const csv = `\uFEFFtext,label\r\n${texts.map((t, i) => `"${t}",${labels[i]}`).join('\r\n')}\r\n`;
    const { http, cli } = await bothWays('spam', 'numeric.csv', csv);
    expect(http.statusCode).toBe(200);
    const inline = await call(app.evaluate, 'POST', '/v2/models/spam/evaluate', { instances: texts, labels });
    expect(inline.statusCode).toBe(200);
    expect(http.body).toMatchObject({ count: texts.length, metrics: inline.body.metrics });
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ count: texts.length, metrics: inline.body.metrics });
  });

  it('the rows the model gets are the cells as they were; tabular features and a regression target are numbers', async () => {
    const rows = await app.services.loader.withModel(parseModelRef('spam'), async (loaded) => {
      const examples = [];
      for await (const row of readDataset(store, '_datasets/numeric.csv', 'csv')) examples.push(exampleFromRow(loaded.manifest, row, 'label', () => []));
      return examples;
    });
    expect(rows.map((r) => r.instance)).toEqual(['hello there', '42', '  3.5e2  ', '0x10', ' free money, click now ', '-7']);
    await store.put(
      '_datasets/housing-padded.csv',
      'crim,zn,indus,chas,nox,rm,age,dis,rad,tax,ptratio,lstat,medv\n0.05083, 0 ,5.19,0,0.515,6.316,38.1,6.4584,5,224,20.2,5.68, 22.2 \n',
    );
    const housing = await app.services.loader.withModel(parseModelRef('housing'), async (loaded) => {
      for await (const row of readDataset(store, '_datasets/housing-padded.csv', 'csv')) return exampleFromRow(loaded.manifest, row, 'medv', () => []);
    });
    expect(housing).toMatchObject({ truth: 22.2, instance: { crim: 0.05083, zn: 0, rm: 6.316, lstat: 5.68 }, place: 'line 2' });
  });
});

describe('JSON Lines', () => {
  it('that starts with a byte-order mark is read', async () => {
    const { http, cli } = await bothWays('spam', 'bom.jsonl', Buffer.from('\xef\xbb\xbf{"text":"hello there","label":"ham"}\n', 'latin1'));
    expect(http.statusCode).toBe(200);
    expect(http.body.count).toBe(1);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).count).toBe(1);
  });

  it('refuses text that is not UTF-8, naming the line, as batch does (it was read with replacement characters)', async () => {
    const { http, cli } = await bothWays(
      'spam',
      'latin1.jsonl',
      Buffer.concat([Buffer.from('{"text":"hello there","label":"ham"}\n{"text":"caf'), Buffer.from([0xe9]), Buffer.from('","label":"ham"}\n')]),
    );
    expect(http.statusCode).toBe(400);
    expect(http.body.error).toBe('line 2 is not valid UTF-8 text');
    expect(cli.stderr).toMatch(/^modelctl: line 2 is not valid UTF-8 text$/m);
  });

  it('names an image the model cannot read by its line, past the first chunk of rows (was its index within the chunk); inline, by its index', async () => {
    const digits = (await readFile('models/_datasets/digits-test.jsonl', 'utf8')).trim().split('\n').slice(0, 299);
    const rows = [...digits.slice(0, 289), JSON.stringify({ image: { b64: '%%' }, label: 3 }), ...digits.slice(289)];
    const { http, cli } = await bothWays('digits', 'bad-image.jsonl', `${rows.join('\n')}\n`);
    expect(http.body.error).toMatch(/^line 290\.b64: /);
    expect(cli.stderr).toMatch(/^modelctl: line 290\.b64: /m);
    const parsed = rows.map((line) => JSON.parse(line));
    const inline = await call(app.evaluate, 'POST', '/v2/models/digits/evaluate', { instances: parsed.map((r) => r.image), labels: parsed.map((r) => r.label) });
    expect(inline.body.error).toMatch(/^instances\[289\]\.b64: /);
  });

  it('names the first bad line when a bad image comes before a line that is not JSON in the same chunk (the JSON was named first)', async () => {
    const digits = (await readFile('models/_datasets/digits-test.jsonl', 'utf8')).trim().split('\n').slice(0, 8);
    const rows = [...digits.slice(0, 5), JSON.stringify({ image: { b64: '%%' }, label: 3 }), ...digits.slice(5, 8), '{"image": oops}'];
    const { http, cli } = await bothWays('digits', 'two-bad.jsonl', `${rows.join('\n')}\n`);
    expect(http.body.error).toMatch(/^line 6\.b64: /);
    expect(cli.stderr).toMatch(/^modelctl: line 6\.b64: /m);
  });

  it('says which columns an image is read from when a row has none of them beside an id (it said "neither an instance nor a raw tensor row")', async () => {
    const seven = (await readFile('examples/seven.png')).toString('base64');
    const { http, cli } = await bothWays('digits', 'photos.csv', `id,photo,label\n1,${seven},7\n`);
    const words = "line 2: no column holds the image: it is read from column image or b64, else from a row's only column (this row has id, photo)";
    expect([http.statusCode, http.body.error]).toEqual([400, words]);
    expect(cli.stderr).toContain(`modelctl: ${words}\n`);
  });

  it('names a line that is not JSON by its number', async () => {
    const { http, cli } = await bothWays('spam', 'bad.jsonl', '\uFEFF{"text":"hello there","label":"ham"}\n\n{"text": oops}\n');
    expect(http.body.error).toBe('line 3 is not valid JSON');
    expect(cli.stderr).toMatch(/^modelctl: line 3 is not valid JSON$/m);
  });
});

describe("the held-out sets give their manifests' metrics", () => {
  const manifestOf = async (model: string) => JSON.parse(await readFile(`models/${model}/versions/1/manifest.json`, 'utf8'));

  it.each(['iris', 'spam', 'digits', 'housing'])('%s on its held-out set', async (model) => {
    const manifest = await manifestOf(model);
    const { dataset, labelColumn } = manifest.training.heldOut;
    const answer = await call(app.evaluate, 'POST', `/v2/models/${model}/evaluate`, { dataset, labelColumn });
    expect(answer.statusCode).toBe(200);
    for (const [name, expected] of Object.entries(manifest.metrics as Record<string, number>)) {
      // The manifest keeps 6 decimals.
      expect(Math.abs(answer.body.metrics[name] - expected), `${model} ${name}`).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(expected));
    }
  });

  it.each([
    ['spam', 'text', (v: unknown) => `"${String(v).replace(/"/g, '""')}"`],
    ['digits', 'image', (v: unknown) => (v as { b64: string }).b64],
  ])('%s on its held-out set written as CSV (quoted texts over many lines; labels as bare numbers): the same evaluation', async (model, column, cell) => {
    const { dataset } = (await manifestOf(model)).training.heldOut;
    const lines = (await readFile(`models/${dataset}`, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    const csv = [`${column},label`, ...lines.map((l) => JSON.parse(l)).map((r) => `${cell(r[column])},${r.label}`)].join('\n');
    if (model === 'spam') expect(csv.split('\n').length).toBeGreaterThan(lines.length * 2);
    else expect(csv).toMatch(/,4\n/);
    await store.put(`_datasets/${model}-test.csv`, csv);
    const [fromCsv, fromJsonl] = await Promise.all([
      call(app.evaluate, 'POST', `/v2/models/${model}/evaluate`, { dataset: `_datasets/${model}-test.csv` }),
      call(app.evaluate, 'POST', `/v2/models/${model}/evaluate`, { dataset }),
    ]);
    expect(fromCsv.statusCode).toBe(200);
    expect(fromCsv.body.count).toBe(lines.length);
    expect(fromCsv.body.metrics).toEqual(fromJsonl.body.metrics);
    expect(fromCsv.body.report).toEqual(fromJsonl.body.report);
  });
});
