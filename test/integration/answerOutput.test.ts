/**
 * A model with several outputs answers from the one its push names (`--output`, manifest
 * answerOutput): the task is guessed from that output, labels are its units, and predict's labels,
 * evaluate's metrics, explain's attributions and fine-tuning read it, whatever the model's own order; raw
 * answers still carry every output under its own name. A small functional layers model (softmax
 * `probs` first, linear `value` second) proves each reader against model.predict, and the
 * face model @vladmandic/human ships (faceres: gender, descriptor, age) proves the graph path
 * against TF.js running the same graph for the named output.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVersion } from '../../lib/loader/readVersion.js';
import { readAlias, setAlias } from '../../lib/registry/index.js';
import { answerHead } from '../../lib/ops/fineTune/answerHead.js';
import { pushModelFolder, readModelFolder } from '../../lib/ops/pushFolder.js';
import { concatWeights, parseModelJson } from '../../lib/registry/artifacts.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { saveLayersFolder } from '../helpers/layersFolder.js';
import { call, serving, waitForJob, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const FACERES = 'node_modules/@vladmandic/human/models/faceres.json';

/** input [4] -> probs = softmax(x W1 + b1) (3 units), value = x w2 + b2 (1 unit): the value second in the model's order. */
async function writeTwoHeads(): Promise<{ dir: string; model: tfl.LayersModel }> {
  await initBackend();
  const dir = await mkdtemp(path.join(tmpdir(), 'two-heads-'));
  const input = tfl.input({ shape: [4] });
  const probs = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'probs' }).apply(input) as tfl.SymbolicTensor;
  const value = tfl.layers.dense({ units: 1, name: 'value' }).apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [probs, value] });
  model.setWeights([
    tf.tensor2d([0.5, -0.2, 0.1, 0.3, 0.8, -0.5, -0.7, 0.2, 0.9, 0.1, -0.4, 0.6], [4, 3]),
    tf.tensor1d([0.05, -0.1, 0.2]),
    tf.tensor2d([1.5, -2, 0.25, 3], [4, 1]),
    tf.tensor1d([0.5]),
  ]);
  await saveLayersFolder(model, dir);
  return { dir, model };
}

const ROWS = [
  [1, 2, 3, 4],
  [-1, 0.5, 2, -3],
  [0.2, -0.7, 1.1, 0.4],
];
const W_VALUE = [1.5, -2, 0.25, 3];

let heads: { dir: string; model: tfl.LayersModel };
let app: App;
/** The model's own outputs on ROWS, by output. */
let probs: number[][];
let values: number[];

beforeAll(async () => {
  heads = await writeTwoHeads();
  const store = await tempFolderStore();
  await pushModelFolder(store, heads.dir, 'first');
  await pushModelFolder(store, heads.dir, 'value', { answerOutput: 'value' });
  await pushModelFolder(store, heads.dir, 'probs', { answerOutput: 'probs', labels: ['a', 'b', 'c'] });
  app = serving(store.uri);
  const [p, v] = heads.model.predict(tf.tensor2d(ROWS)) as tf.Tensor[];
  probs = (await p.array()) as number[][];
  values = ((await v.array()) as number[][]).map((row) => row[0]);
  tf.dispose([p, v]);
});

describe('a layers model with two outputs', () => {
  it('takes its task from the output --output names, and answers from it', async () => {
    const meta = await call(app.metadata, 'GET', '/v2/models/value');
    expect(meta.body).toMatchObject({ task: 'regression', answerOutput: 'value' });
    expect(meta.body.outputs.map((o: { name: string }) => o.name)).toEqual(['value', 'probs']);
    const answer = await call(app.predict, 'POST', '/v1/models/value:predict', { instances: ROWS });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    // Raw rows get raw answers: every output of each row, by name, the named one first.
    expect(answer.body.predictions.map((row: object) => Object.keys(row))).toEqual(ROWS.map(() => ['value', 'probs']));
    expect(answer.body.predictions.map((row: { value: number[] }) => row.value[0])).toEqual(values.map((v) => expect.closeTo(v, 5)));
    const first = await call(app.metadata, 'GET', '/v2/models/first');
    expect(first.body).toMatchObject({ task: 'classification', answerOutput: 'probs' });
  });

  it('labels the named output, and raw answers keep every output under its own name', async () => {
    const [{ name }] = (await call(app.metadata, 'GET', '/v2/models/probs')).body.inputs;
    const answer = await call(app.predict, 'POST', '/v2/models/probs/infer', { inputs: [{ name, datatype: 'FP32', shape: [3, 4], data: ROWS.flat() }] });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    const byName = Object.fromEntries(answer.body.outputs.map((o: { name: string; data: unknown[] }) => [o.name, o.data]));
    expect(byName.probs).toEqual(probs.flat().map((p) => expect.closeTo(p, 6)));
    expect(byName.value).toEqual(values.map((v) => expect.closeTo(v, 5)));
    expect(byName.label).toEqual(probs.map((row) => ['a', 'b', 'c'][row.indexOf(Math.max(...row))]));
    const swapped = await call(app.predict, 'POST', '/v2/models/value/infer', { inputs: [{ name, datatype: 'FP32', shape: [3, 4], data: ROWS.flat() }] });
    const swappedByName = Object.fromEntries(swapped.body.outputs.map((o: { name: string; data: unknown[] }) => [o.name, o.data]));
    expect(swappedByName.value).toEqual(byName.value);
    expect(swappedByName.probs).toEqual(byName.probs);
  });

  it("evaluates the named output: the value's squared error, not the first output's", async () => {
    const labels = [1, 2, 3];
    const answer = await call(app.evaluate, 'POST', '/v2/models/value/evaluate', { instances: ROWS, labels });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    const mse = values.reduce((sum, v, i) => sum + (v - labels[i]) ** 2, 0) / values.length;
    expect(answer.body.metrics.mse).toBeCloseTo(mse, 4);
  });

  it('explains the named output: integrated gradients of a linear output are (x - baseline) times its weights', async () => {
    const answer = await call(app.explain, 'POST', '/v2/models/value/explain', { method: 'integratedGradients', instances: [ROWS[0]], baseline: 'zeros', steps: 8 });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.meta.output).toBe('value');
    const [explanation] = answer.body.data.explanations;
    expect(explanation.score).toBeCloseTo(values[0], 4);
    expect(explanation.attributions.flat()).toEqual(ROWS[0].map((x, i) => expect.closeTo(x * W_VALUE[i], 4)));
  });

  it('fine-tunes the named output only: the new version answers a new value, the other head untouched', async () => {
    const instances = Array.from({ length: 40 }, (_, i) => [i % 3, i % 5, i % 7, 1]);
    const labels = instances.map((_, i) => i / 10);
    const queued = await call(app.fineTune, 'POST', '/v2/models/value/fine-tune', { instances, labels, config: { epochs: 2, learningRate: 0.05 } });
    expect(queued.statusCode, JSON.stringify(queued.body)).toBe(202);
    // With no worker function configured, the job runs in this process (as `npm start` runs it).
    const job = await waitForJob(app, queued.body.id);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const { version } = job.result as { version: number };
    const meta = await call(app.metadata, 'GET', `/v2/models/value/versions/${version}`);
    expect(meta.body).toMatchObject({ task: 'regression', answerOutput: 'value' });
    const [{ name }] = meta.body.inputs;
    const infer = async (version: number) => {
      const answer = await call(app.predict, 'POST', `/v2/models/value/versions/${version}/infer`, { inputs: [{ name, datatype: 'FP32', shape: [3, 4], data: ROWS.flat() }] });
      return Object.fromEntries(answer.body.outputs.map((o: { name: string; data: number[] }) => [o.name, o.data]));
    };
    const [before, after] = [await infer(1), await infer(version)];
    expect(after.probs).toEqual(before.probs);
    expect(after.value).not.toEqual(before.value);
  });

  it('trains through one view of the model for as long as it lives (what is measured on it stays known)', async () => {
    const loaded = await readVersion(app.services.store, 'value', 1);
    const view = answerHead(loaded.model as tfl.LayersModel);
    expect(view.outputs.map((o) => o.sourceLayer.name)).toEqual(['value']);
    expect(answerHead(loaded.model as tfl.LayersModel)).toBe(view);
    loaded.model.dispose();
  });

  it('does not promote over an alias whose version answers from another output: its metrics would measure something else', async () => {
    const store = app.services.store;
    await pushModelFolder(store, heads.dir, 'pair', { answerOutput: 'value' });
    await pushModelFolder(store, heads.dir, 'pair', { answerOutput: 'probs', labels: ['a', 'b', 'c'] });
    await setAlias(store, 'pair', 'prod', 2);
    const instances = Array.from({ length: 20 }, (_, i) => [i % 3, i % 5, i % 7, 1]);
    const queued = await call(app.fineTune, 'POST', '/v2/models/pair/versions/1/fine-tune', {
      instances,
      labels: instances.map((_, i) => i / 10),
      config: { epochs: 1 },
      promote: { alias: 'prod', ifBetter: 'mse' },
    });
    expect(queued.statusCode, JSON.stringify(queued.body)).toBe(202);
    const job = await waitForJob(app, queued.body.id);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect((job.result as { promoted: unknown }).promoted).toEqual({
      alias: 'prod',
      moved: false,
      reason: 'version 2 answers from output probs, this one from value: its mse on these labels would not be comparable',
    });
    expect((await readAlias(store, 'pair', 'prod'))?.version).toBe(2);
  });

  it('refuses to fine-tune a layer that only feeds another output, saying so', async () => {
    const answer = await call(app.fineTune, 'POST', '/v2/models/value/fine-tune', { instances: ROWS, labels: [1, 2, 3], config: { trainableLayers: ['probs'] } });
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(
      /^trainableLayers probs: not on the way to output value, the one fine-tuning trains \(its answer output\); the layers that are: input\d*, value$/,
    );
  });

  it('refuses an output the model does not have, naming those it has, and stores nothing', async () => {
    const store = await tempFolderStore();
    await expect(pushModelFolder(store, heads.dir, 'nope', { answerOutput: 'values' })).rejects.toThrow(
      'output "values" is not one of the model\'s: its outputs are "probs", "value"',
    );
    expect((await store.listPage('nope/')).objects).toEqual([]);
  });
});

describe('naming the outputs', () => {
  it('a layer applied twice gives two outputs of distinct names (Keras: head, head_1), each of which --output can name', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shared-head-'));
    const head = tfl.layers.dense({ units: 2, name: 'head' });
    const input = tfl.input({ shape: [2] });
    const pre = tfl.layers.dense({ units: 2, name: 'pre' }).apply(input) as tfl.SymbolicTensor;
    const probs = tfl.layers.dense({ units: 2, activation: 'softmax', name: 'probs' }).apply(input) as tfl.SymbolicTensor;
    const twice = tfl.model({ inputs: input, outputs: [probs, head.apply(input) as tfl.SymbolicTensor, head.apply(pre) as tfl.SymbolicTensor] });
    await saveLayersFolder(twice, dir);
    const store = await tempFolderStore();
    // No task given: it is read from head_1's layer (linear: a regression), not from the first output's softmax.
    // The push builds the model, runs it once and frees it whole: its shared layer's weights too.
    const before = tf.memory().numTensors;
    const second = await pushModelFolder(store, dir, 'second', { answerOutput: 'head_1' });
    expect(tf.memory().numTensors).toBe(before);
    expect(second.task).toBe('regression');
    expect(second.signature.outputs.map((o) => o.name)).toEqual(['head_1', 'probs', 'head']);
    const served = serving(store.uri);
    const answer = await call(served.predict, 'POST', '/v1/models/second:predict', { instances: [[1, 2]] });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    const [, own1, own2] = tf.tidy(() => (twice.predict(tf.tensor2d([[1, 2]])) as tf.Tensor[]).map((t) => Array.from(t.dataSync())));
    expect(answer.body.predictions[0].head).toEqual(own1.map((v) => expect.closeTo(v, 5)));
    expect(answer.body.predictions[0].head_1).toEqual(own2.map((v) => expect.closeTo(v, 5)));
    // A version whose manifest names the outputs alike (as pushed before they were named apart) cannot
    // answer from a chosen one: refused when built, not answered from the model's first output.
    const manifestKey = 'second/versions/1/manifest.json';
    const stored = JSON.parse(new TextDecoder().decode(await store.get(manifestKey)));
    stored.signature.outputs = stored.signature.outputs.map((o: { name: string }) => ({ ...o, name: o.name === 'head_1' ? 'head' : o.name }));
    await store.put(manifestKey, JSON.stringify(stored));
    await expect(readVersion(store, 'second', 1)).rejects.toThrow(/second:1 cannot be built: its manifest's outputs do not match the model's one to one/);
  });

  it("a model's own output named label keeps its name; the label classifiers add is then predicted_label", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'label-head-'));
    const input = tfl.input({ shape: [4] });
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, activation: 'softmax', name: 'label' }).apply(input) as tfl.SymbolicTensor });
    await saveLayersFolder(model, dir);
    const store = await tempFolderStore();
    await pushModelFolder(store, dir, 'lab', { labels: ['x', 'y', 'z'] });
    const served = serving(store.uri);
    const meta = await call(served.metadata, 'GET', '/v2/models/lab');
    expect(meta.body.outputs.map((o: { name: string; datatype: string }) => [o.name, o.datatype])).toEqual([
      ['label', 'FP32'],
      ['predicted_label', 'BYTES'],
    ]);
    const [{ name }] = meta.body.inputs;
    const infer = await call(served.predict, 'POST', '/v2/models/lab/infer', { inputs: [{ name, datatype: 'FP32', shape: [1, 4], data: ROWS[0] }], outputs: [{ name: 'label' }] });
    expect(infer.statusCode, JSON.stringify(infer.body)).toBe(200);
    expect(infer.body.outputs.map((o: { name: string; datatype: string }) => [o.name, o.datatype])).toEqual([['label', 'FP32']]);
    const scores = infer.body.outputs[0].data as number[];
    const labelled = await call(served.predict, 'POST', '/v2/models/lab/infer', {
      inputs: [{ name, datatype: 'FP32', shape: [1, 4], data: ROWS[0] }],
      outputs: [{ name: 'predicted_label' }],
    });
    expect(labelled.body.outputs).toEqual([{ name: 'predicted_label', datatype: 'BYTES', shape: [1], data: [['x', 'y', 'z'][scores.indexOf(Math.max(...scores))]] }]);
  });

  it('labels that fit another output say which; an empty --output is refused', async () => {
    const store = await tempFolderStore();
    await expect(pushModelFolder(store, heads.dir, 'three', { answerOutput: 'value', task: 'classification', labels: ['a', 'b', 'c'] })).rejects.toThrow(
      '3 labels for 1 output units (output value): give one label per unit, or --output probs, which has 3',
    );
    // One label names no classifier's output: no hint toward a push that would then be refused.
    await expect(pushModelFolder(store, heads.dir, 'one', { labels: ['only'] })).rejects.toThrow(/^1 labels for 3 output units \(output probs\): give one label per unit$/);
    await expect(pushModelFolder(store, heads.dir, 'empty', { answerOutput: '' })).rejects.toThrow('output "" is not one of the model\'s');
    await expect(pushModelFolder(store, heads.dir, 'lone', { answerOutput: 'value', task: 'classification', labels: ['only'] })).rejects.toThrow(
      'a classifier has 2 classes at least, got 1 label',
    );
  });
});

describe("human's faceres (a graph: gender, descriptor, age)", () => {
  it('answers the age output it was pushed for, as TF.js running the graph for that output does', async () => {
    const store = await tempFolderStore();
    const ages = Array.from({ length: 100 }, (_, i) => String(i));
    await pushModelFolder(store, FACERES, 'age', {
      answerOutput: 'age_pred/Softmax',
      labels: ages,
      transforms: { input: { kind: 'image', width: 224, height: 224, channels: 3, scale: 1 } },
    });
    const face = serving(store.uri);
    // A 224x224 image: no resize, so the model's input is its pixels (scale 1), as human feeds faceres.
    const png = new PNG({ width: 224, height: 224 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : (i * 37 + (i >> 10) * 11) % 256;
    const pixels = Float32Array.from(png.data.filter((_, i) => i % 4 !== 3));
    const files = await readModelFolder(FACERES);
    const modelJson = parseModelJson(files.get('model.json'));
    const weightSpecs = (modelJson.weightsManifest ?? []).flatMap((group) => group.weights) as tf.io.WeightsManifestEntry[];
    const graph = await loadGraphModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology as object, weightSpecs, weightData: concatWeights(modelJson, files) }));
    const theirs = tf.tidy(() => (graph.execute(tf.tensor4d(pixels, [1, 224, 224, 3]), 'age_pred/Softmax') as tf.Tensor).dataSync());
    graph.dispose();
    const answer = await call(face.predict, 'POST', '/v1/models/age:predict', { instances: [{ b64: PNG.sync.write(png).toString('base64') }] });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    const [prediction] = answer.body.predictions;
    const best = theirs.indexOf(Math.max(...theirs));
    expect(prediction.label).toBe(String(best));
    expect(prediction.score).toBeCloseTo(theirs[best], 4);
    // An output asked for by its tensor's name, as model.json's signature gives it, is answered under that name.
    const b64 = PNG.sync.write(png).toString('base64');
    const infer = await call(face.predict, 'POST', '/v2/models/age/infer', {
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [b64], parameters: { content_type: 'base64' } }],
      outputs: [{ name: 'age_pred/Softmax:0' }],
    });
    expect(infer.statusCode, JSON.stringify(infer.body).slice(0, 300)).toBe(200);
    expect(infer.body.outputs.map((o: { name: string }) => o.name)).toEqual(['age_pred/Softmax:0']);
    expect(infer.body.outputs[0].data).toEqual(Array.from(theirs, (p) => expect.closeTo(p, 4)));
  });
});
