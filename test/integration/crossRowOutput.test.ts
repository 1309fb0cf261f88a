/**
 * A model with an output computed across the rows (a sum over the batch): rows run in chunks cannot
 * give it, so a request whose rows must be chunked is a 422 saying so. A request whose rows fit one
 * call is answered, the first one to a freshly loaded model too, whose first row the memory planner
 * runs alone to measure its cost (runtime/memory.ts inChunks): it answered 422, and the same
 * request 200 once measured.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { writeBatchSumModel } from '../helpers/handWrittenGraphs.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let storeUri: string;
beforeAll(async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeBatchSumModel(), 'sum', { task: 'regression' });
  storeUri = store.uri;
});

const ROWS = [
  [1, 2, 3],
  [4, 5, 6],
  [7, 8, 9],
];
const request = (rows: number[][]) => ({ inputs: [{ name: 'x', shape: [rows.length, 3], datatype: 'FP32', data: rows.flat() }] });

describe('an output computed across the rows', () => {
  it("is answered on a fresh model's first request whose rows fit one call, as on the next, with no tensor left", async () => {
    const app: App = serving(storeUri);
    const first = await call(app.predict, 'POST', '/v2/models/sum/infer', request(ROWS));
    expect(first.statusCode, JSON.stringify(first.body)).toBe(200);
    const before = tf.memory().numTensors;
    const second = await call(app.predict, 'POST', '/v2/models/sum/infer', request(ROWS));
    expect(tf.memory().numTensors).toBe(before);
    expect(second.body.outputs).toEqual(first.body.outputs);
    const byName = Object.fromEntries(first.body.outputs.map((o: { name: string; data: number[] }) => [o.name, o.data]));
    expect(byName.total).toEqual([45]);
    expect(byName.doubled).toEqual(ROWS.flat().map((v) => 2 * v));
  });

  it('is a 422 naming the chunks when the rows cannot run in one call (MAX_BATCH), first request or not', async () => {
    const app: App = serving(storeUri, { MAX_BATCH: '2' });
    for (let i = 0; i < 2; i += 1) {
      const answer = await call(app.predict, 'POST', '/v2/models/sum/infer', request(ROWS));
      expect(answer.statusCode).toBe(422);
      expect(answer.body.error).toMatch(
        /output total of sum:1 is one value for all rows, computed across them, and the rows ran in chunks \(the memory budget, MAX_BATCH\): send fewer row\(s\) per request$/,
      );
    }
  });

  it('is a 400 on TF Serving :regress, which answers each example: one value for three examples is not three answers', async () => {
    const app: App = serving(storeUri);
    await call(app.predict, 'POST', '/v2/models/sum/infer', request(ROWS)); // loaded
    const before = tf.memory().numTensors;
    const answer = await call(app.predict, 'POST', '/v1/models/sum:regress', { examples: ROWS.map((x) => ({ x })) });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(/^output total is one value for all examples: :regress answers each example/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
