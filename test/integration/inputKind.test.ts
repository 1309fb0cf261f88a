/**
 * A fourth input kind is one file (test/helpers/sequenceKind.ts) and one registration: then every
 * operation takes its instances, through both protocols: predict, metadata, evaluate, explain,
 * batch scoring. The model is the tiny linear softmax of tinyModels.ts, so every answer has a
 * reference computed here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { registerInputKind } from '../../lib/inputs/kinds.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { sequenceKind } from '../helpers/sequenceKind.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { expectedProbabilities, writeLayersModel } from '../helpers/tinyModels.js';

registerInputKind(sequenceKind);

const LABELS = ['a', 'b', 'c'];
const SCALE = 0.5;
const rows = [
  [2, 4, 6, 8],
  [-2, 1, 0, 3],
  [10, -4, 2, 0],
];
/** The model sees each value times the scale. */
const reference = (row: number[]) => expectedProbabilities(row.map((v) => v * SCALE));
const argmax = (p: number[]) => p.indexOf(Math.max(...p));

let store: FolderStore;
let app: App;
beforeAll(async () => {
  store = await tempFolderStore();
  await pushModelFolder(store, await writeLayersModel(), 'seq', { labels: LABELS, transforms: { input: { kind: 'sequence', length: 4, scale: SCALE } } });
  app = serving(store.uri);
});

describe('a registered input kind', () => {
  it('is validated in the manifest (unknown settings of a known kind are refused)', async () => {
    const dir = await writeLayersModel();
    await expect(pushModelFolder(store, dir, 'bad', { labels: LABELS, transforms: { input: { kind: 'sequence', length: 'four' } } })).rejects.toThrow(/length/);
    await expect(pushModelFolder(store, dir, 'bad', { labels: LABELS, transforms: { input: { kind: 'seqence', length: 4 } } })).rejects.toThrow(/unknown input kind "seqence"/);
  });

  it('answers TF Serving instances and OIP inputs with its content type, as the reference does', async () => {
    const tfServing = await call(app.predict, 'POST', '/v1/models/seq:predict', { instances: rows.map((sequence) => ({ sequence })) });
    expect(tfServing.statusCode).toBe(200);
    tfServing.body.predictions.forEach((answer: { label: string; scores: { label: string; score: number }[] }, i: number) => {
      const p = reference(rows[i]);
      expect(answer.label).toBe(LABELS[argmax(p)]);
      for (const { label, score } of answer.scores) expect(score).toBeCloseTo(p[LABELS.indexOf(label)], 5);
    });
    const oip = await call(app.predict, 'POST', '/v2/models/seq/infer', {
      inputs: [{ name: 'rows', shape: [rows.length], datatype: 'BYTES', parameters: { content_type: 'sequence' }, data: rows.map((sequence) => JSON.stringify({ sequence })) }],
    });
    expect(oip.statusCode).toBe(200);
    expect(oip.body.outputs.find((o: { name: string }) => o.name === 'label').data).toEqual(rows.map((r) => LABELS[argmax(reference(r))]));
  });

  it('describes itself in the metadata, and names itself in a bad instance', async () => {
    const metadata = await call(app.metadata, 'GET', '/v2/models/seq');
    expect(metadata.body.naturalInput).toEqual({ kind: 'sequence', length: 4 });
    const bad = await call(app.predict, 'POST', '/v1/models/seq:predict', { instances: [{ sequence: [1, 2] }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.body.error).toMatch(/instances\[0\]: expected \{"sequence": \[4 numbers\]\}/);
  });

  it('is evaluated, and explained per position (KernelSHAP is exact: it sums to f(x) - E[f])', async () => {
    const labels = rows.map((r) => LABELS[argmax(reference(r))]);
    const evaluation = await call(app.evaluate, 'POST', '/v2/models/seq/evaluate', { instances: rows.map((sequence) => ({ sequence })), labels });
    expect(evaluation.body.metrics.accuracy).toBe(1);
    const explained = await call(app.explain, 'POST', '/v2/models/seq/explain', {
      instances: [{ sequence: rows[0] }],
      method: 'kernelShap',
      background: [{ sequence: [0, 0, 0, 0] }],
    });
    expect(explained.statusCode).toBe(200);
    const [e] = explained.body.data.explanations;
    expect(e.positions.map((p: { value: number }) => p.value)).toEqual(rows[0]);
    const total = e.positions.reduce((s: number, p: { attribution: number }) => s + p.attribution, 0);
    expect(total).toBeCloseTo(e.score - e.expectedValue, 5);
  });

  it('is scored in batch from JSON Lines records', async () => {
    await store.put('batch/input/seq/rows.jsonl', rows.map((sequence) => JSON.stringify({ sequence })).join('\n'));
    const [outcome] = (await app.batchScore({
      Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'batch/input/seq/rows.jsonl' } } }],
    } as never)) as {
      status: string;
    }[];
    expect(outcome.status).toBe('succeeded');
    const lines = new TextDecoder()
      .decode(await store.get('batch/output/seq/rows.jsonl.predictions.jsonl'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.label)).toEqual(rows.map((r) => LABELS[argmax(reference(r))]));
  });
});
