/**
 * A data set is one form throughout, natural instances or raw tensor rows, as its first row is:
 * evaluate names the first row that is not (or that is neither), by its index in the request or
 * its line in the file, and gives the same answer wherever its chunks fall. The synchronous route
 * reads the rows in chunks (MAX_BATCH, the memory budget), the asynchronous route's precheck in
 * its own, the job as the synchronous route: a mix of forms in two chunks was a 200 on one route
 * and a 400 on the other, and a bad first row was named in other words, or a good row named instead.
 */
import { cp, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { S3Event } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FolderStore } from '../../lib/store/folder.js';
import { listAll } from '../../lib/store/index.js';
import { call, serving, waitForJob, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const raw = [5.1, 3.5, 1.4, 0.2];
const record = (i: number) => ({ sepal_length: 5 + i / 10, sepal_width: 3.4, petal_length: 1.5, petal_width: 0.2 });
const HELP = ': send every instance as an object with one number per feature';

let store: FolderStore;
/** Rows read two at a time, and all at once (MAX_BATCH 256). */
let small: App;
let large: App;

beforeAll(async () => {
  store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  small = serving(store.uri, { MAX_BATCH: '2' });
  large = serving(store.uri);
  // The model loaded first: the tensor counts below are the requests' own.
  for (const app of [small, large]) expect((await call(app.predict, 'POST', '/v1/models/iris:predict', { instances: [raw] })).statusCode).toBe(200);
});

/** Saved evaluations and job records. */
async function writes(): Promise<number> {
  let count = 0;
  for (const prefix of ['iris/versions/1/evaluations/', '_jobs/']) for await (const _ of listAll(store, prefix)) count += 1;
  return count;
}

/**
 * Inline instances through every route, with chunks of two rows and of all: the synchronous
 * evaluate, a saved evaluation, and a job (its precheck). Every answer is the same 400, and no
 * job, evaluation or tensor is left.
 */
async function refusedEverywhere(instances: unknown[]): Promise<string> {
  const body = { instances, labels: instances.map(() => 'setosa') };
  const before = tf.memory().numTensors;
  const written = await writes();
  const answers = [];
  for (const app of [small, large]) {
    answers.push(await call(app.evaluate, 'POST', '/v2/models/iris/evaluate', body));
    answers.push(await call(app.evaluations, 'POST', '/v2/models/iris/evaluations', { ...body, save: true }));
    answers.push(await call(app.evaluations, 'POST', '/v2/models/iris/evaluations?async=true', body));
  }
  expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 400));
  const errors = new Set(answers.map((a) => a.body.error as string));
  expect([...errors]).toHaveLength(1);
  expect(tf.memory().numTensors).toBe(before);
  expect(await writes()).toBe(written);
  return [...errors][0];
}

describe('inline rows of two forms, one in each chunk, are a 400 on every route (the synchronous route answered 200)', () => {
  it('feature records, then raw rows: the first raw row is named against the first row', async () => {
    expect(await refusedEverywhere([record(0), record(1), raw, raw])).toMatch(new RegExp(`^instances\\[2\\] is not an instance like instances\\[0\\]${HELP}`));
  });

  it('raw rows, then feature records: the first record is named as an instance, not a raw row like the first', async () => {
    expect(await refusedEverywhere([raw, raw, record(0), record(1)])).toMatch(new RegExp(`^instances\\[2\\] is an instance, not a raw tensor row like instances\\[0\\]${HELP}`));
  });
});

describe('bad first rows are named as the synchronous route names them, on every route', () => {
  it.each([
    ['the first row is neither an instance nor a raw row', ['not a row', record(1), record(2), record(3)]],
    ['the first two rows are neither (the precheck said "not an instance like instances[2]")', [null, 'not a row', record(2), record(3)]],
    ['the first row is neither, raw rows after it', ['not a row', raw, raw, raw]],
  ])('%s: instances[0]', async (_case, instances) => {
    expect(await refusedEverywhere(instances)).toMatch(new RegExp(`^instances\\[0\\] is neither an instance model iris takes nor a raw tensor row${HELP}`));
  });

  it.each([
    ['the first raw row is short (instances[1], a good row, was named)', [[1, 2, 3], raw, raw, raw]],
    ['the first two raw rows are short (the precheck named instances[2], a good row)', [[1, 2, 3], [1, 2, 3], raw, raw]],
  ])('%s: instances[0], against the model', async (_case, instances) => {
    expect(await refusedEverywhere(instances)).toBe("instances[0]: a row of shape [3] does not fit the model's input features, [-1,4] (-1 = any size)");
  });

  it('a bad record before a raw row in the same chunk is named first, as when a chunk ends between them', async () => {
    const bad = { ...record(0), sepal_width: 'wide' };
    expect(await refusedEverywhere([record(1), bad, raw, record(2)])).toMatch(/^instances\[1\]: sepal_width must be a finite number, got "wide"/);
  });
});

describe('a data file of two forms, one in each chunk', () => {
  it('is a 400 naming the first line of the other form, and the job fails with the same words (it succeeded)', async () => {
    const [ham, spam] = [
      { text: 'see you at the meeting tomorrow', label: 'ham' },
      { text: 'win a free prize now, click here', label: 'spam' },
    ];
    const bag = (label: string) => ({ instance: Array.from({ length: 1000 }, (_, i) => (i < 3 ? 1 : 0)), label });
    await store.put('_datasets/two-forms.jsonl', `${[ham, spam, bag('ham'), bag('spam')].map((row) => JSON.stringify(row)).join('\n')}\n`);
    const body = { dataset: '_datasets/two-forms.jsonl' };
    for (const app of [small, large]) {
      const now = await call(app.evaluate, 'POST', '/v2/models/spam/evaluate', body);
      expect(now.statusCode).toBe(400);
      expect(now.body.error).toMatch(/^line 3 is not an instance like line 1: send every instance as a string/);
      const accepted = await call(app.evaluations, 'POST', '/v2/models/spam/evaluations?async=true', body);
      expect(accepted.statusCode).toBe(202);
      const job = await waitForJob(app, accepted.body.id);
      expect(job.status).toBe('failed');
      expect(job.error).toBe(now.body.error);
    }
  });
});

describe("a JSON Lines row's `instance` field is the row, as batch scoring takes it", () => {
  it('iris rows {"instance": [...], "species": ...} are evaluated as the same rows in feature columns (it was "line 1: missing column(s) sepal_length, ..."), and batch scores them alike', async () => {
    const names = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
    const rows = (await readFile('models/_datasets/iris-test.csv', 'utf8'))
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(','));
    const features = (cells: string[]) => cells.slice(0, 4).map(Number);
    const files = {
      columns: rows.map((cells) => ({ ...Object.fromEntries(names.map((n, i) => [n, features(cells)[i]])), species: cells[4] })),
      raw: rows.map((cells) => ({ instance: features(cells), species: cells[4] })),
      record: rows.map((cells) => ({ instance: Object.fromEntries(names.map((n, i) => [n, features(cells)[i]])), species: cells[4] })),
    };
    for (const [name, lines] of Object.entries(files)) await store.put(`_datasets/instance-${name}.jsonl`, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    for (const app of [small, large]) {
      const reports = [];
      for (const name of Object.keys(files)) {
        const answer = await call(app.evaluate, 'POST', '/v2/models/iris/evaluate', { dataset: `_datasets/instance-${name}.jsonl`, labelColumn: 'species' });
        expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
        reports.push(answer.body.report);
      }
      expect(reports[0]).toMatchObject({ count: rows.length });
      expect(reports[1]).toEqual(reports[0]);
      expect(reports[2]).toEqual(reports[0]);
    }
    // Batch scoring the same files: the same answer for each line.
    const predictions = [];
    for (const name of Object.keys(files)) {
      const key = `batch/input/iris/instance-${name}.jsonl`;
      await store.put(key, await store.get(`_datasets/instance-${name}.jsonl`));
      await large.batchScore({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key } } }] } as unknown as S3Event);
      predictions.push(new TextDecoder().decode(await store.get(`batch/output/iris/instance-${name}.jsonl.predictions.jsonl`)));
    }
    expect(predictions[0].trim().split('\n')).toHaveLength(rows.length);
    expect(predictions[1]).toBe(predictions[0]);
    expect(predictions[2]).toBe(predictions[0]);
  });

  it('a bad `instance` is named by its line, as any bad row of the data set', async () => {
    await store.put(
      '_datasets/instance-short.jsonl',
      `${[
        { instance: raw, species: 'setosa' },
        { instance: [1, 2, 3], species: 'setosa' },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n')}\n`,
    );
    const answer = await call(large.evaluate, 'POST', '/v2/models/iris/evaluate', { dataset: '_datasets/instance-short.jsonl', labelColumn: 'species' });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toBe('line 2: ragged nesting: expected an array of 4 at depth 1');
  });
});
