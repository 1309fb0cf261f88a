/**
 * An output of one vector a pixel or position (a segmentation's mask, a pose's keypoints) is not a
 * classifier's scores: human's selfie pushed with labels was stored as binary, and predict
 * answered the index of one of its 65,536 pixels as the label, with the labels ignored. Such an
 * output pushed without a task is a regression, answered whole; with labels or a classifier's task
 * it is refused, saying to push it as a regression, with nothing stored. An output of one vector a
 * row, whatever its rank ([rows, 1, 1, classes]), is still a classifier's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { keys } from '../../lib/registry/index.js';
import { listAll } from '../../lib/store/index.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { writePixelHeadModel } from '../helpers/handWrittenGraphs.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let store: FolderStore;
let app: App;
let mask: string;
beforeAll(async () => {
  store = await tempFolderStore();
  mask = await writePixelHeadModel('Sigmoid', 2, 1);
  app = serving(store.uri);
});

async function storedUnder(name: string): Promise<string[]> {
  const found: string[] = [];
  for await (const object of listAll(store, `${name}/`)) found.push(object.key);
  return found;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

describe('an output of one vector a pixel', () => {
  it('pushed without a task is a regression whose answer is the whole mask, as the graph computes it', async () => {
    const manifest = await pushModelFolder(store, mask, 'mask');
    expect(manifest.task).toBe('regression');
    const pixels = [-2, 0, 1.5, 3];
    const answer = await call(app.predict, 'POST', '/v2/models/mask/infer', { inputs: [{ name: 'x', shape: [1, 2, 2, 1], datatype: 'FP32', data: pixels }] });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.outputs).toHaveLength(1);
    expect(answer.body.outputs[0].shape).toEqual([1, 2, 2, 1]);
    for (const [i, v] of (answer.body.outputs[0].data as number[]).entries()) expect(v).toBeCloseTo(sigmoid(pixels[i]), 6);
  });

  it.each([
    ['labels', { labels: ['background', 'person'] }, 'binary'],
    ['the binary task', { task: 'binary' as const }, 'binary'],
    ['softmax classes with labels', { labels: ['background', 'hair', 'skin'] }, 'classification'],
  ])('pushed with %s is refused, saying to push it as a regression, with nothing stored', async (_what, fields, task) => {
    const folder = task === 'classification' ? await writePixelHeadModel('Softmax', 2, 3) : mask;
    const shape = task === 'classification' ? '-1,2,2,3' : '-1,2,2,1';
    await expect(pushModelFolder(store, folder, 'refused', fields)).rejects.toThrow(
      `output head has shape [${shape}]: a vector a pixel or position (a mask, keypoints), where a ${task} model answers one score vector a row, so its label would be a pixel's index: push it with --task regression and without labels or scores, which answers the whole output`,
    );
    expect(await storedUnder('refused')).toEqual([]);
  });

  it('in a version pushed as binary before the push refused it: a 422 where a label is read (predict, explain, evaluate); its raw outputs are served', async () => {
    await pushModelFolder(store, mask, 'old', { task: 'regression' });
    const key = keys.manifest('old', 1);
    const manifest = JSON.parse(new TextDecoder().decode(await store.get(key)));
    await store.put(key, JSON.stringify({ ...manifest, task: 'binary', labels: ['background', 'person'] }));
    const x = { name: 'x', shape: [1, 2, 2, 1], datatype: 'FP32', data: [-2, 0, 1.5, 3] };
    const refusal = /^this version was pushed as a binary model, but its output \(shape \[-?1,2,2,1\]\) is a vector a pixel or position, not one score vector a row/;
    const answers = [
      await call(app.predict, 'POST', '/v1/models/old:predict', {
        instances: [
          [
            [[-2], [0]],
            [[1.5], [3]],
          ],
        ],
        raw: false,
      }),
      await call(app.predict, 'POST', '/v2/models/old/infer', { inputs: [x] }),
      await call(app.explain, 'POST', '/v2/models/old/explain', {
        instances: [
          [
            [[-2], [0]],
            [[1.5], [3]],
          ],
        ],
      }),
      await call(app.evaluate, 'POST', '/v2/models/old/evaluate', {
        instances: [
          [
            [[-2], [0]],
            [[1.5], [3]],
          ],
        ],
        labels: ['person'],
      }),
    ];
    for (const answer of answers) {
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(422);
      expect(answer.body.error).toMatch(refusal);
    }
    const raw = await call(app.predict, 'POST', '/v2/models/old/infer', { inputs: [x], outputs: [{ name: 'head' }] });
    expect(raw.statusCode, JSON.stringify(raw.body)).toBe(200);
    expect(raw.body.outputs.map((o: { name: string }) => o.name)).toEqual(['head']);
  });

  it('of one pixel ([rows, 1, 1, classes]) is a classifier, whose label is a class', async () => {
    const manifest = await pushModelFolder(store, await writePixelHeadModel('Softmax', 1, 3), 'pooled', { labels: ['a', 'b', 'c'] });
    expect(manifest.task).toBe('classification');
    const answer = await call(app.predict, 'POST', '/v1/models/pooled:predict', { instances: [[[[0.1, 2, -1]]]], raw: false });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.predictions[0].label).toBe('b');
  });
});
