/**
 * Graph outputs are named by their signature keys, as TF Serving names them: human-models' gear
 * answered Identity_2, Identity_1 and Identity (TF.js's node names) for race_output, gender_output
 * and age_output, and a request for gender_output was a 400 'unknown output(s)'. Now metadata, both
 * protocols' answers and output selection say the keys, and a request naming a node still gets its
 * output. A version pushed before, whose manifest names the nodes, answers as it always did: a
 * stored version is immutable, its names included, and its clients look outputs up by them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { keys } from '../../lib/registry/index.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { writeKeyedOutputsModel } from '../helpers/handWrittenGraphs.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let store: ObjectStore;
const ROWS = [
  [1, 0, 2],
  [-1, 3, 0.5],
];
const infer = (model: string, outputs?: { name: string }[]) =>
  call(app.predict, 'POST', `/v2/models/${model}/infer`, { inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: ROWS.flat() }], ...(outputs ? { outputs } : {}) });

beforeAll(async () => {
  store = await tempFolderStore();
  const folder = await writeKeyedOutputsModel();
  await pushModelFolder(store, folder, 'gear', { labels: ['female', 'male'] });
  // No task or labels: the task is guessed from the graph, walked from the output's node (its key names no node).
  await pushModelFolder(store, folder, 'guessed');
  await pushModelFolder(store, folder, 'old', { labels: ['female', 'male'] });
  // As a push before this change wrote it: outputs named by node, no `node` field.
  const key = keys.manifest('old', 1);
  const manifest = JSON.parse(new TextDecoder().decode(await store.get(key)));
  manifest.signature.outputs = manifest.signature.outputs.map(({ node, ...spec }: { node: string; name: string }) => ({ ...spec, name: node }));
  await store.put(key, JSON.stringify(manifest));
  app = serving(store.uri);
});

describe('graph outputs named by their signature keys', () => {
  it('OIP and TF Serving metadata name the outputs by key; TF Serving gives the node as the tensor name', async () => {
    const meta = await call(app.metadata, 'GET', '/v2/models/gear');
    expect(meta.statusCode).toBe(200);
    expect(meta.body.task).toBe('classification');
    expect(meta.body.outputs.map((o: { name: string }) => o.name)).toEqual(['gender_output', 'age_output', 'label']);
    const tfs = await call(app.metadata, 'GET', '/v1/models/gear/metadata');
    const outputs = tfs.body.metadata.signature_def.signature_def.serving_default.outputs;
    expect(Object.keys(outputs)).toEqual(['gender_output', 'age_output']);
    expect(outputs.gender_output.name).toBe('Identity');
    expect((await call(app.metadata, 'GET', '/v2/models/guessed')).body.task).toBe('classification');
  });

  it('infer answers by key, and a request naming a key gets that output alone', async () => {
    const all = await infer('gear');
    expect(all.statusCode, JSON.stringify(all.body)).toBe(200);
    expect(all.body.outputs.map((o: { name: string }) => o.name)).toEqual(['gender_output', 'age_output', 'label']);
    const age = await infer('gear', [{ name: 'age_output' }]);
    expect(age.statusCode, JSON.stringify(age.body)).toBe(200);
    // x V with V = [1, 2, 3]: 1 + 0 + 6 = 7 and -1 + 6 + 1.5 = 6.5.
    expect(age.body.outputs).toEqual([{ name: 'age_output', shape: [2, 1], datatype: 'FP32', data: [7, 6.5] }]);
    // By its key or its node with a tensor's `:0`, answered under the name asked for, in the order asked (as Triton answers).
    const tensors = await infer('gear', [{ name: 'age_output:0' }, { name: 'Identity:0' }]);
    expect(tensors.statusCode, JSON.stringify(tensors.body)).toBe(200);
    expect(tensors.body.outputs.map((o: { name: string }) => o.name)).toEqual(['age_output:0', 'Identity:0']);
    expect(tensors.body.outputs[0].data).toEqual([7, 6.5]);
    expect(tensors.body.outputs[1].data).toEqual(all.body.outputs[0].data);
    // One output by two of its names is asked for twice.
    const twice = await infer('gear', [{ name: 'age_output' }, { name: 'Identity_1:0' }]);
    expect(twice.statusCode).toBe(400);
    expect(twice.body.error).toBe('outputs[1]: output "Identity_1:0" is already requested by an earlier entry (as "age_output"): ask for each output once');
    const unknown = await infer('gear', [{ name: 'race_output' }]);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body.error).toBe('unknown output(s) race_output: the model answers gender_output, age_output, label');
  });

  it('TF Serving predict names the outputs by key', async () => {
    const answer = await call(app.predict, 'POST', '/v1/models/gear:predict', { inputs: { x: ROWS }, raw: true });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(Object.keys(answer.body.outputs)).toEqual(['gender_output', 'age_output']);
  });

  it('a version pushed before (its manifest names the nodes) keeps its names; a request naming a node gets its output under that name', async () => {
    const meta = await call(app.metadata, 'GET', '/v2/models/old');
    expect(meta.body.outputs.map((o: { name: string }) => o.name)).toEqual(['Identity', 'Identity_1', 'label']);
    const all = await infer('old');
    expect(all.statusCode, JSON.stringify(all.body)).toBe(200);
    expect(all.body.outputs.map((o: { name: string }) => o.name)).toEqual(['Identity', 'Identity_1', 'label']);
    const onNew = await infer('gear', [{ name: 'Identity_1' }, { name: 'gender_output' }]);
    expect(onNew.statusCode, JSON.stringify(onNew.body)).toBe(200);
    expect(onNew.body.outputs.map((o: { name: string }) => o.name)).toEqual(['Identity_1', 'gender_output']);
    expect(onNew.body.outputs[0].data).toEqual([7, 6.5]);
  });
});
