import { cp, readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { runEvaluation } from '../../lib/ops/evaluate/service.js';
import { keys } from '../../lib/registry/index.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { listAll } from '../../lib/store/index.js';
import { writeHalfPlusTwo } from '../helpers/halfPlusTwo.js';
import { call, callHttpApi, serving, type App } from '../helpers/serving.js';
import { recording, tempFolderStore } from '../helpers/stores.js';
import { writeLayersModel, writeWideModel } from '../helpers/tinyModels.js';
import { localLimits } from '../../lib/runtime/memory.js';

let app: App;

const FEATURES = ['f1', 'f2', 'f3', 'f4'];
const LABELS = ['a', 'b', 'c'];
let store: FolderStore;

/** Random rows and the labels the model itself predicts, with a few flipped: known accuracy. */
function rows(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [Math.sin(i), Math.cos(i * 1.3), (i % 7) - 3, Math.sin(i * 0.7) * 2]);
}

async function predictedLabels(instances: number[][]): Promise<string[]> {
  const answer = await call(app.predict, 'POST', '/v1/models/lin:predict', { instances, raw: false });
  return answer.body.predictions.map((p: { label: string }) => p.label);
}

beforeAll(async () => {
  store = await tempFolderStore();
  await pushModelFolder(store, await writeLayersModel(), 'lin', {
    labels: LABELS,
    transforms: { input: { kind: 'tabular', features: FEATURES.map((name) => ({ name, mean: 0, std: 1 })) } },
  });
  await pushModelFolder(store, await writeHalfPlusTwo(), 'half', { task: 'regression' });
  app = serving(store.uri);
});

describe('evaluate names the row that is of another kind, past the first chunk too', () => {
  const record = (i: number) => Object.fromEntries(FEATURES.map((name, j) => [name, ((i + j) % 7) / 7]));
  it('an inline instance by its index among all of them', async () => {
    const instances: unknown[] = Array.from({ length: 300 }, (_, i) => record(i));
    instances[299] = [1, 2, 3, 4];
    const body = { instances, labels: instances.map(() => LABELS[0]) };
    const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', body);
    expect(answer.statusCode).toBe(400);
    // Like the data set's first row, as the asynchronous route's precheck names it (not the first of its chunk, instances[256]).
    expect(answer.body.error).toMatch(/^instances\[299\] is not an instance like instances\[0\]/);
    expect((await call(app.evaluations, 'POST', '/v2/models/lin/evaluations?async=true', body)).body.error).toBe(answer.body.error);
  });

  it('a data set row by its line in the file', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ ...record(i), ...(i === 299 ? { instance: [1, 2, 3, 4] } : {}), label: LABELS[0] }));
    await store.put('_datasets/mixed.jsonl', `${lines.join('\n')}\n`);
    const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { dataset: '_datasets/mixed.jsonl' });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(/^line 300 is not an instance like line 1:/);
  });
});

describe('evaluate names a bad raw row by its place in the request or file, not in its MAX_BATCH chunk', () => {
  // MAX_BATCH 2: rows 0-1, 2-3, 4-5 are read as three tensors, each numbering its rows from 0.
  const good = [0.1, 0.2, 0.3, 0.4];
  const withShortRow = (at: number) => Array.from({ length: 6 }, (_, i) => (i === at ? [1, 2, 3] : good));
  let small: App;
  beforeAll(() => {
    small = serving(store.uri, { MAX_BATCH: '2' });
  });

  it.each([3, 2])('an inline row by its index in the request (at %i; was instances[1]), as the asynchronous route names it', async (at) => {
    const body = { instances: withShortRow(at), labels: LABELS.concat(LABELS) };
    const sync = await call(small.evaluate, 'POST', '/v2/models/lin/evaluate', body);
    expect(sync.statusCode).toBe(400);
    expect(sync.body.error).toBe(`instances[${at}]: ragged nesting: expected an array of 4 at depth 1`);
    const job = await call(small.evaluations, 'POST', '/v2/models/lin/evaluations?async=true', body);
    expect(job.body.error).toBe(sync.body.error);
  });

  it('a data set row by its line', async () => {
    // half_plus_two takes one number a row: line 4's instance is two.
    const lines = [1, 2, 3, [4, 4], 5, 6].map((instance, i) => JSON.stringify({ instance, label: i }));
    await store.put('_datasets/two-numbers.jsonl', `${lines.join('\n')}\n`);
    const answer = await call(small.evaluate, 'POST', '/v2/models/half/evaluate', { dataset: '_datasets/two-numbers.jsonl' });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toBe('line 4: ragged nesting: expected a value at depth 1, got an array');
  });
});

describe('evaluate handler', () => {
  it('computes accuracy and the confusion matrix of inline labelled instances', async () => {
    const instances = rows(40);
    const labels = await predictedLabels(instances);
    const flipped = labels.map((l, i) => (i % 10 === 0 ? LABELS[(LABELS.indexOf(l) + 1) % 3] : l)); // 4 of 40 wrong
    const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { instances, labels: flipped });
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toMatchObject({ model: { name: 'lin', version: 1 }, task: 'classification', count: 40, source: 'inline' });
    expect(answer.body.metrics.accuracy).toBeCloseTo(36 / 40, 12);
    const matrix: number[][] = answer.body.report.confusionMatrix;
    expect(matrix.flat().reduce((a, b) => a + b, 0)).toBe(40);
    expect(matrix.reduce((s, r, i) => s + r[i], 0)).toBe(36);
  });

  it('computes regression metrics (half_plus_two: y = x/2 + 2)', async () => {
    const answer = await call(app.evaluate, 'POST', '/v2/models/half/evaluate', { instances: [0, 2, 4], labels: [2, 3.5, 4] });
    // Predictions 2, 3, 4 against 2, 3.5, 4: one error of 0.5.
    expect(answer.body.metrics.mse).toBeCloseTo(0.25 / 3, 12);
    expect(answer.body.metrics.mae).toBeCloseTo(0.5 / 3, 12);
    expect(answer.body.metrics.maxError).toBeCloseTo(0.5, 12);
  });

  it('refuses a regression label beyond float32, inline and in a CSV (its squared error overflowed: mse null)', async () => {
    const inline = await call(app.evaluate, 'POST', '/v2/models/half/evaluate', { instances: [0, 2], labels: [1e300, 3] });
    expect(inline.statusCode).toBe(400);
    expect(inline.body.error).toBe('labels[0]: 1e+300 is beyond float32 (the model computes in float32: at most ±3.40e+38)');
    // A model a CSV row fits (half takes one value a row, and a CSV row is a list of cells): the first bad line is the label's.
    const features = ['a', 'b', 'c', 'd'].map((name) => ({ name, mean: 0, std: 1 }));
    await pushModelFolder(store, await writeWideModel(1), 'sum4', { task: 'regression', transforms: { input: { kind: 'tabular', features } } });
    await store.put('_datasets/sum4-huge.csv', 'a,b,c,d,y\n0,0,0,0,2\n2,1,0,1,-4e38\n');
    const file = await call(app.evaluate, 'POST', '/v2/models/sum4/evaluate', { dataset: '_datasets/sum4-huge.csv', labelColumn: 'y' });
    expect(file.statusCode).toBe(400);
    expect(file.body.error).toMatch(/^line 3, y: -4e\+38 is beyond float32/);
    // The largest float32 is a label like any other, and its metrics are numbers.
    const edge = await call(app.evaluate, 'POST', '/v2/models/half/evaluate', { instances: [0, 2], labels: [3.4028234663852886e38, 3] });
    expect(edge.statusCode).toBe(200);
    expect(Number.isFinite(edge.body.metrics.mse)).toBe(true);
  });

  it('streams a CSV data set from the store, in chunks, to the same metrics as inline', async () => {
    const instances = rows(1000);
    const labels = await predictedLabels(instances);
    const csv = ['f1,f2,f3,f4,id,truth', ...instances.map((r, i) => `${r.join(',')},${i},${labels[i]}`)].join('\n');
    await store.put('_datasets/lin.csv', csv);
    app = serving(store.uri, { MAX_BATCH: '64' });
    const fromFile = await call(app.evaluate, 'POST', '/v2/models/lin/versions/1/evaluate', { dataset: `${store.uri}/_datasets/lin.csv`, labelColumn: 'truth' });
    app = serving(store.uri);
    const inline = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { instances, labels });
    expect(fromFile.body.count).toBe(1000);
    expect(fromFile.body.metrics.accuracy).toBe(1);
    expect(fromFile.body.metrics).toEqual(inline.body.metrics);
    expect(fromFile.body.source).toBe('_datasets/lin.csv');
  });

  it('reads JSON Lines with a relative key', async () => {
    const instances = rows(5);
    const labels = await predictedLabels(instances);
    await store.put('_datasets/lin.jsonl', instances.map((r, i) => JSON.stringify({ ...Object.fromEntries(FEATURES.map((f, j) => [f, r[j]])), label: labels[i] })).join('\n'));
    const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { dataset: '_datasets/lin.jsonl' });
    expect(answer.body).toMatchObject({ count: 5, metrics: { accuracy: 1 } });
  });

  it('names the JSON Lines row without a label by its line (it said the column was not found, listing it among the columns)', async () => {
    const records = rows(3).map((r) => Object.fromEntries(FEATURES.map((f, j) => [f, r[j]])));
    const lines = records.map((r, i) => JSON.stringify(i === 1 ? r : { ...r, label: 'a' }));
    await store.put('_datasets/lin-unlabelled-row.jsonl', `${lines.join('\n')}\n`);
    const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { dataset: '_datasets/lin-unlabelled-row.jsonl' });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toBe(`line 2: no "label" (the label column); this row has ${FEATURES.join(', ')}`);
  });

  it('saves an evaluation (POST .../evaluations) next to the version and lists it in metadata, leaving the manifest as it was', async () => {
    const manifestBefore = await store.get(keys.manifest('lin', 1));
    const answer = await call(app.evaluations, 'POST', '/v2/models/lin/evaluations', { instances: [[1, 2, 3, 4]], labels: ['c'], save: true });
    const saved = JSON.parse(new TextDecoder().decode(await store.get(keys.evaluation('lin', 1, answer.body.id))));
    expect(saved.metrics).toEqual(answer.body.metrics);
    const meta = await call(app.metadata, 'GET', '/v2/models/lin/versions/1');
    expect(meta.body.evaluations.map((e: { id: string }) => e.id)).toContain(answer.body.id);
    expect(await store.get(keys.manifest('lin', 1))).toEqual(manifestBefore);
  });

  it.each([
    ['save: true', '', { save: true }],
    ['?async=true', '?async=true', {}],
  ])('the open evaluate route refuses %s with a 403 naming the IAM route, and writes nothing', async (_, query, extra) => {
    const objects = async () => {
      let count = 0;
      for (const prefix of ['lin/', '_jobs/']) for await (const _ of listAll(store, prefix)) count += 1;
      return count;
    };
    const before = await objects();
    const answer = await call(app.evaluate, 'POST', `/v2/models/lin/versions/1/evaluate${query}`, { instances: [[1, 2, 3, 4]], labels: ['c'], ...extra });
    expect(answer.statusCode).toBe(403);
    expect(answer.body.error).toMatch(/signed \(IAM\), to POST \/v2\/models\/lin\/versions\/1\/evaluations/);
    expect(await objects()).toBe(before);
  });

  it('runs as a job with POST .../evaluations?async=true: 202, then the job moves to succeeded with the same metrics', async () => {
    const instances = rows(30);
    const labels = await predictedLabels(instances);
    const accepted = await call(app.evaluations, 'POST', '/v2/models/lin/evaluations?async=true', { instances, labels });
    expect(accepted.statusCode).toBe(202);
    expect(accepted.headers.location).toBe(`/v2/jobs/${accepted.body.id}`);
    let job = (await call(app.metadata, 'GET', `/v2/jobs/${accepted.body.id}`)).body;
    for (let i = 0; i < 100 && (job.status === 'queued' || job.status === 'running'); i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await call(app.metadata, 'GET', `/v2/jobs/${accepted.body.id}`)).body;
    }
    expect(job).toMatchObject({ kind: 'evaluate', status: 'succeeded', model: { name: 'lin', version: 1 }, attempts: 1 });
    expect(job.result.metrics.accuracy).toBe(1);
  });

  it('answers ?report=html with a self-contained page: metrics, confusion matrix and ROC as SVG', async () => {
    const instances = rows(60);
    const labels = await predictedLabels(instances);
    const result = (await app.evaluate({ method: 'POST', path: '/v2/models/lin/evaluate', query: { report: 'html' }, body: { instances, labels } })) as {
      headers: Record<string, string>;
      body: string;
    };
    expect(result.headers['content-type']).toMatch(/^text\/html/);
    expect(result.body).toMatch(/<svg[^>]*aria-label="confusion matrix"/);
    expect(result.body).toMatch(/<svg[^>]*aria-label="ROC curve"/);
    expect(result.body).not.toMatch(/<script|https?:\/\//);
  });

  it.each([
    [
      "labels that are not the model's",
      {
        instances: [
          [1, 2, 3, 4],
          [1, 1, 1, 1],
        ],
        labels: ['a', 'zebra'],
      },
      400,
      /labels\[1\]: "zebra" is not one of the model's labels \(a, b, c\)/,
    ],
    ['fewer labels than instances', { instances: [[1, 2, 3, 4]], labels: [] }, 400, /1 instances but 0 labels/],
    ['no instances', { instances: [], labels: [] }, 400, /instances is empty/],
    ['neither instances nor a data set', { labels: ['a'] }, 400, /either "instances"/],
    ['a data set outside the store', { dataset: 's3://someone-else/data.csv' }, 403, /outside the model store/],
    ['a data set that does not exist', { dataset: '_datasets/none.csv' }, 404, /no object _datasets\/none.csv/],
    ['a data set key that climbs out', { dataset: '../etc/passwd.csv' }, 400, /invalid data set key/],
    // Keys no file holds are keys of no object, as on S3 (the folder store answered 500 "refused access").
    ['a data set key naming a folder', { dataset: '_datasets', format: 'csv' }, 404, /no object _datasets$/],
    ['a data set key through a file', { dataset: '_datasets/lin.csv/x.csv' }, 404, /no object _datasets\/lin\.csv\/x\.csv/],
    ['a data set key with a part longer than a file name', { dataset: `_datasets/${'a'.repeat(300)}.csv` }, 404, /no object _datasets\/a{300}\.csv/],
    ['a data set key over 1024 bytes', { dataset: `_datasets/${'é'.repeat(600)}.csv` }, 400, /^data set key of 1214 bytes: a key in the store is at most 1024 bytes$/],
    ['a label column longer than 1024 characters (a job record keeps it)', { dataset: '_datasets/lin.csv', labelColumn: 'x'.repeat(1025) }, 400, /labelColumn/],
    ['a data set key with a NUL', { dataset: '_datasets/a\u0000b.csv' }, 400, /^invalid data set key "_datasets\/a\\u0000b\.csv": it holds a control character$/],
    ['a missing label column', { dataset: '_datasets/lin.csv' }, 400, /label column "label" not found; the data set has columns f1, f2, f3, f4, id, truth/],
    ['an unknown format', { dataset: '_datasets/lin.parquet' }, 400, /cannot tell the format/],
  ])('answers %s with %i', async (_case, body, status, message) => {
    await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { instances: [[1, 2, 3, 4]], labels: ['a'] });
    const baseline = tf.memory().numTensors;
    const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', body);
    expect(answer.statusCode).toBe(status);
    expect(answer.body.error).toMatch(message);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it("refuses a data set outside the store without naming the store's location", async () => {
    const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { dataset: 's3://someone-else/data.csv' });
    expect(answer.statusCode).toBe(403);
    expect(answer.body.error).toMatch(/name it by its key in the store/);
    expect(answer.body.error).not.toContain(store.uri.replace(/\/$/, ''));
  });

  it('reports a source that fails mid-file as an error of the request, not a crash of the process', async () => {
    const broken = recording(store);
    broken.getStream = async () => {
      const source = new Readable({ read() {} });
      source.push('f1,f2,f3,f4,label\n1,2,3,4,a\n');
      setImmediate(() => source.destroy(new Error('connection reset')));
      return source;
    };
    const request = { dataset: 'x.csv', labelColumn: 'label', save: false };
    await app.services.loader.withModel({ name: 'lin', version: 1 }, (loaded) => expect(runEvaluation(broken, loaded, request, localLimits())).rejects.toThrow(/connection reset/));
  });

  it("lists at most 20 of a data set's columns when the label column is not among them, each cut short", async () => {
    // A one-line file of 5,000 long values read as a header: the answer names a few, not 200 KB of them.
    const header = Array.from({ length: 5000 }, (_, i) => `value_${i}_${'x'.repeat(30)}`).join(',');
    for (const [name, body] of [
      ['wide.csv', `${header}\n`],
      ['wide_iris.csv', `${header}\n1,2,3,4\n`],
    ]) {
      await store.put(`_datasets/${name}`, body);
      const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { dataset: `_datasets/${name}` });
      expect(answer.statusCode).toBe(400);
      expect(answer.body.error).toMatch(/^label column "label" not found; the data set has columns value_0_x{30}, value_1_x{30}, .*, and 4980 more$/);
      expect(answer.body.error.length).toBeLessThan(1200);
    }
  });

  it('answers an empty data set with 400', async () => {
    await store.put('_datasets/empty.csv', 'f1,f2,f3,f4,label\n');
    const answer = await call(app.evaluate, 'POST', '/v2/models/lin/evaluate', { dataset: '_datasets/empty.csv' });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(/has no rows/);
  });
});

describe('evaluate: options and labels that do not apply to the model', () => {
  let demo: App;
  let demoStore: FolderStore;
  const iris = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
  const jobs = async () => {
    let count = 0;
    for await (const _ of listAll(demoStore, '_jobs/')) count += 1;
    return count;
  };

  beforeAll(async () => {
    demoStore = await tempFolderStore();
    await cp('models', fileURLToPath(demoStore.uri), { recursive: true });
    demo = serving(demoStore.uri);
  });

  it.each([
    [
      'threshold on a multiclass model',
      'iris',
      { dataset: '_datasets/iris-test.csv', labelColumn: 'species', threshold: 0.7 },
      /threshold: iris is a classification model; a threshold applies to binary models only/,
    ],
    [
      'threshold on a regression model',
      'housing',
      { dataset: '_datasets/housing-test.csv', labelColumn: 'medv', threshold: 0.7 },
      /threshold: housing is a regression model; a threshold applies to binary models only/,
    ],
    [
      'topK on a binary model',
      'spam',
      { instances: ['win money now'], labels: ['spam'], topK: 1 },
      /topK: spam is a binary model; top-k accuracy applies to multiclass models only/,
    ],
    [
      'topK on a regression model',
      'housing',
      { dataset: '_datasets/housing-test.csv', labelColumn: 'medv', topK: 2 },
      /topK: housing is a regression model; top-k accuracy applies to multiclass models only/,
    ],
    [
      'topK of every class (an accuracy of 1 whatever the model predicts)',
      'iris',
      { dataset: '_datasets/iris-test.csv', labelColumn: 'species', topK: 3 },
      /^topK: iris has 3 classes, so its top-3 accuracy would be 1 whatever it predicts: ask for fewer than 3$/,
    ],
  ])('%s: 400 naming it (it was ignored), on evaluate and before an asynchronous job is accepted', async (_case, model, body, message) => {
    const answer = await call(demo.evaluate, 'POST', `/v2/models/${model}/evaluate`, body);
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(message);
    const before = await jobs();
    const submitted = await call(demo.evaluations, 'POST', `/v2/models/${model}/evaluations?async=true`, body);
    expect(submitted.statusCode).toBe(400);
    expect(submitted.body.error).toMatch(message);
    expect(await jobs()).toBe(before);
  });

  it.each([
    ['a label the model does not have', { instances: [iris, iris], labels: ['setosa', 'rose'] }, /labels\[1\]: "rose" is not one of the model's labels/],
    // Options of a data set beside inline instances were ignored (a 200 as if not sent).
    [
      'a labelColumn with inline instances',
      { instances: [iris], labels: ['setosa'], labelColumn: 'species' },
      /"labelColumn" read a "dataset"; inline "instances" take their truth from "labels": drop it/,
    ],
    ['a format with inline instances', { instances: [iris], labels: ['setosa'], format: 'csv' }, /"format" read a "dataset"/],
    [
      'an instance of the wrong width',
      {
        instances: [
          [5.1, 3.5, 1.4, 0.2],
          [5.1, 3.5, 1.4],
        ],
        labels: ['setosa', 'setosa'],
      },
      /instances\[1\]/,
    ],
    ['an instance without a feature', { instances: [iris, { sepal_length: 5.1 }], labels: ['setosa', 'setosa'] }, /instances\[1\].*sepal_width/],
  ])('%s: 400 on evaluate, and the same 400 before an asynchronous job is accepted (it became a failed job)', async (_case, body, message) => {
    const answer = await call(demo.evaluate, 'POST', '/v2/models/iris/evaluate', body);
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(message);
    const before = await jobs();
    const submitted = await call(demo.evaluations, 'POST', '/v2/models/iris/evaluations?async=true', body);
    expect(submitted.statusCode).toBe(400);
    expect(submitted.body.error).toBe(answer.body.error);
    expect(await jobs()).toBe(before);
  });

  it('refuses an HTML report asked of a job (its result is kept as JSON), starting none', async () => {
    const before = await jobs();
    const body = { instances: [iris], labels: ['setosa'] };
    const answer = await call(demo.evaluations, 'POST', '/v2/models/iris/evaluations?async=true&report=html', body);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.error).toMatch(/report.*report=html is the answer of an evaluation run now: a job \(async=true\) keeps its result as JSON/);
    expect(await jobs()).toBe(before);
    expect((await call(demo.evaluations, 'POST', '/v2/models/iris/evaluations?async=false&report=html', body)).statusCode).toBe(200);
  });

  it('refuses a label that is not one value (["setosa"] read as setosa through its text)', async () => {
    const answer = await call(demo.evaluate, 'POST', '/v2/models/iris/evaluate', { instances: [iris, iris], labels: ['setosa', ['setosa']] });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(/labels\[1\]: \["setosa"\] is not a label: a label is one value, one of the model's labels \(setosa, versicolor, virginica\)/);
    const object = await call(demo.evaluate, 'POST', '/v2/models/spam/evaluate', { instances: ['win money now'], labels: [{ label: 'spam' }] });
    expect(object.statusCode).toBe(400);
    expect(object.body.error).toMatch(/labels\[0\]: \{"label":"spam"\} is not a label/);
  });

  it('names a deeply nested label by its field, and cuts short what it echoes', async () => {
    // Sent as text: JSON.parse takes nesting that JSON.stringify cannot give back (5,000 levels overflowed the stack in the message).
    for (const depth of [100, 5000]) {
      const labels = `[${'['.repeat(depth)}${']'.repeat(depth)}]`;
      const answer = await callHttpApi(demo.evaluate, 'POST', '/v2/models/iris/evaluate', `{"instances":[${JSON.stringify(iris)}],"labels":${labels}}`);
      expect(answer.statusCode, `depth ${depth}`).toBe(400);
      expect(answer.body.error).toMatch(/^labels\[0\]: .+ is not a label: a label is one value, one of the model's labels \(setosa, versicolor, virginica\)$/);
      expect(answer.body.error.length).toBeLessThan(250);
    }
  });

  it('keeps the options and labels that apply: threshold on a binary model, topK on a multiclass one, a class name sent as a number', async () => {
    const spam = await call(demo.evaluate, 'POST', '/v2/models/spam/evaluate', { instances: ['win money now', 'see you at lunch'], labels: ['spam', 'ham'], threshold: 0.7 });
    expect(spam.statusCode, JSON.stringify(spam.body)).toBe(200);
    expect(spam.body.report.threshold).toBe(0.7);
    const irisAnswer = await call(demo.evaluate, 'POST', '/v2/models/iris/evaluate', { dataset: '_datasets/iris-test.csv', labelColumn: 'species', topK: 2 });
    expect(irisAnswer.statusCode, JSON.stringify(irisAnswer.body)).toBe(200);
    expect(irisAnswer.body.metrics.top2Accuracy).toBeGreaterThan(0);
    const [line] = (await readFile('models/_datasets/digits-test.jsonl', 'utf8')).split('\n', 1);
    const { image, label } = JSON.parse(line) as { image: unknown; label: string };
    const digits = await call(demo.evaluate, 'POST', '/v2/models/digits/evaluate', { instances: [image], labels: [Number(label)] });
    expect(digits.statusCode, JSON.stringify(digits.body)).toBe(200);
    expect(digits.body.metrics.accuracy).toBe(1);
  });
});
