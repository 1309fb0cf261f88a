/**
 * The columnar path of evaluate (lib/ops/evaluate/columnar.ts) against the row path it replaces
 * for tabular CSV data sets: the same evaluation (metrics and full report) on the demo models'
 * held-out sets and on a file written the way spreadsheets write CSV (CRLF, quoted cells, blank
 * lines, extra columns, columns in another order), and the same errors, naming the same lines.
 */
import { readFile } from 'node:fs/promises';
import { cp } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { datasetKey, formatOf, readDataset } from '../../lib/ops/evaluate/dataset.js';
import { evaluateModel, type Evaluation } from '../../lib/ops/evaluate/evaluate.js';
import { exampleFromRow } from '../../lib/ops/evaluate/examples.js';
import { runEvaluation } from '../../lib/ops/evaluate/service.js';
import { parseModelRef } from '../../lib/registry/index.js';
import { localLimits } from '../../lib/runtime/memory.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let store: FolderStore;
let app: App;
const limits = localLimits(64);

beforeAll(async () => {
  store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  app = serving(store.uri);
});

/** The row path: data-set rows (dataset.ts) -> examples -> chunks. */
async function byRows(model: string, dataset: string, labelColumn: string): Promise<Evaluation> {
  return app.services.loader.withModel(parseModelRef(model), async (loaded) => {
    const key = datasetKey(store, dataset);
    let columns: string[] = [];
    async function* examples() {
      for await (const row of readDataset(store, key, formatOf(key))) {
        if (columns.length === 0) columns = Object.keys(row.values);
        yield exampleFromRow(loaded.manifest, row, labelColumn, () => columns);
      }
    }
    return evaluateModel(loaded, examples(), key, { limits });
  });
}

async function byColumns(model: string, dataset: string, labelColumn: string): Promise<Evaluation> {
  return app.services.loader.withModel(parseModelRef(model), (loaded) => runEvaluation(store, loaded, { dataset, labelColumn, save: false } as never, limits));
}

const comparable = (e: Evaluation) => ({ count: e.count, metrics: e.metrics, report: e.report });

describe('columnar and row paths agree', () => {
  it.each([
    ['iris', '_datasets/iris-test.csv', 'species'],
    ['housing', '_datasets/housing-test.csv', 'medv'],
  ])('%s on its held-out set: the same metrics and report', async (model, dataset, label) => {
    const columns = await byColumns(model, dataset, label);
    expect(columns.count).toBeGreaterThan(20);
    expect(comparable(columns)).toEqual(comparable(await byRows(model, dataset, label)));
  });

  it('on a spreadsheet-style file: CRLF, quoted cells, a blank line, extra and reordered columns, over many chunks', async () => {
    const [header, ...lines] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
    const names = header.split(',');
    // species first, a quoted note with a comma and a quoted newline, then the features reversed.
    const order = [4, 3, 2, 1, 0];
    const row = (cells: string[], i: number) => [cells[order[0]], `"note ${i}, with ""quotes""\r\nand a line"`, ...order.slice(1).map((c) => ` ${cells[c]} `)].join(',');
    const many = Array.from({ length: 4000 }, (_, i) => lines[i % lines.length].split(','));
    const text = [[names[4], 'note', ...order.slice(1).map((c) => names[c])].join(','), ...many.map(row)];
    text.splice(7, 0, '');
    await store.put('_datasets/tricky.csv', `${text.join('\r\n')}\r\n`);
    const columns = await byColumns('iris', '_datasets/tricky.csv', 'species');
    expect(columns.count).toBe(4000);
    expect(comparable(columns)).toEqual(comparable(await byRows('iris', '_datasets/tricky.csv', 'species')));
  });

  it.each([
    [
      'a non-numeric feature',
      'sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n5.0,x,1.4,0.2,setosa\n',
      // By its line alone, as the row path names it (it was "instances[1]: ... (line 3)", its index in its chunk).
      /^line 3: sepal_width must be a finite number, got "x"$/,
    ],
    ['an unknown label', 'sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,rose\n', /line 2, species: "rose" is not one of the model's labels/],
    ['a missing feature column', 'sepal_length,sepal_width,petal_length,species\n5.1,3.5,1.4,setosa\n', /line 2: missing column\(s\) petal_width/],
    ['no label column', 'sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n', /label column "species" not found/],
    ['a row with too few fields', 'sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,setosa\n', /malformed near line 2/],
  ])('%s: a 400 naming it and its line', async (_, csv, message) => {
    await store.put('_datasets/bad.csv', csv);
    const answer = await app.evaluate({ method: 'POST', path: '/v2/models/iris/evaluate', body: { dataset: '_datasets/bad.csv', labelColumn: 'species' } });
    expect(answer.statusCode).toBe(400);
    expect((answer.body as { error: string }).error).toMatch(message);
  });
});
