/**
 * Output shapes a converted graph's signature fixes to one row because the converter traced one
 * example (human's faceres says [1, 100] for an input of [-1, 224, 224, 3]): the push tries two
 * rows, and an output that follows the rows is stored, and shown in metadata, as of any rows; an
 * output of one row whatever the rows (a sum over them) stays of one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { Manifest } from '../../lib/registry/manifest.js';
import { writeOneRowOnlyModel, writeTracedShapesModel } from '../helpers/handWrittenGraphs.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let manifest: Manifest;
beforeAll(async () => {
  const store = await tempFolderStore();
  manifest = await pushModelFolder(store, await writeTracedShapesModel(), 'traced', { task: 'regression' });
  app = serving(store.uri);
});

const shapeOf = (outputs: { name: string; shape: number[] }[], name: string) => outputs.find((o) => o.name === name)?.shape;

describe("a converted graph's output shapes traced at one row", () => {
  it('are stored as of any rows where the output follows the rows, and of one where it does not', () => {
    expect(shapeOf(manifest.signature.outputs as { name: string; shape: number[] }[], 'probs')).toEqual([-1, 2]);
    expect(shapeOf(manifest.signature.outputs as { name: string; shape: number[] }[], 'colSum')).toEqual([1, 3]);
  });

  it('are kept as said when the model cannot run two rows: the push does not fail for it', async () => {
    const store = await tempFolderStore();
    const pushed = await pushModelFolder(store, await writeOneRowOnlyModel(), 'single', { task: 'regression' });
    expect(pushed.signature.outputs.map((o) => o.shape)).toEqual([[1, 3]]);
  });

  it('metadata shows the shapes infer answers', async () => {
    const metadata = await call(app.metadata, 'GET', '/v2/models/traced');
    expect(metadata.statusCode).toBe(200);
    const rows = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const answer = await call(app.predict, 'POST', '/v2/models/traced/infer', { inputs: [{ name: 'x', shape: [3, 3], datatype: 'FP32', data: rows }] });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(shapeOf(answer.body.outputs, 'probs')).toEqual([3, 2]);
    expect(shapeOf(answer.body.outputs, 'colSum')).toEqual([1, 3]);
    expect(shapeOf(metadata.body.outputs, 'probs')).toEqual([-1, 2]);
    expect(shapeOf(metadata.body.outputs, 'colSum')).toEqual([1, 3]);
  });
});
