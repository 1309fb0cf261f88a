/**
 * A classifier whose output holds logits or log-probabilities answers as its authors' code reads
 * it: tf.softmax(logits), tf.sigmoid(logit), tf.exp(logProbabilities). The references are twins of
 * the demo iris (softmax) and spam (sigmoid) models whose last activation is log_softmax or linear,
 * with the same weights: each must answer, score, evaluate and explain as the model TF.js computes
 * the probabilities inside. Raw outputs stay the model's own.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
// The Einsum head's reference runs on cpu (wasm has no Einsum of its own).
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob } from '../../lib/jobs/index.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { type EnsembleMember, type GraphHead, loadWrittenGraph, writeEinsumHeadModel, writeEnsembleModel, writeHeadModel } from '../helpers/handWrittenGraphs.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { call, serving, type App } from '../helpers/serving.js';
import { pushNestedTwin, storeWithTwins } from '../helpers/twins.js';

let app: App;
let store: FolderStore;
let irisRows: Record<string, number>[];
let spamTexts: string[];

const manifestOf = async (model: string, version = 1) =>
  JSON.parse(await readFile(path.join(fileURLToPath(store.uri), model, 'versions', String(version), 'manifest.json'), 'utf8'));

beforeAll(async () => {
  // The demo models and their twins whose output activation is another (log_softmax, linear: logits), the same weights.
  store = await storeWithTwins();
  app = serving(store.uri);
  await pushNestedTwin(store, 'iris', 'softmax', 'linear', 'irisnested');
  const [header, ...lines] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
  const names = header.split(',').slice(0, -1);
  irisRows = lines.map((line) => Object.fromEntries(names.map((name, i) => [name, Number(line.split(',')[i])])));
  spamTexts = (await readFile('models/_datasets/spam-test.jsonl', 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).text);
});

type ClassAnswer = { label: string; score: number; scores: { label: string; score: number }[] };

/** `raw: false`: labelled answers for raw tensors too (TF Serving's plain arrays otherwise). */
async function predictions(model: string, instances: unknown[]): Promise<ClassAnswer[]> {
  const answer = await call(app.predict, 'POST', `/v1/models/${model}:predict`, { instances, raw: false });
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  return answer.body.predictions;
}

/** Answers of a classifier labelled a, b, c: each the class and the probabilities of `expected`'s row. */
function expectAnswersOf(answers: ClassAnswer[], expected: number[][]) {
  expect(answers.length).toBe(expected.length);
  for (const [r, answer] of answers.entries()) {
    const row = expected[r] as number[];
    expect(answer.label).toBe(['a', 'b', 'c'][row.indexOf(Math.max(...row))]);
    for (const { label, score } of answer.scores) expect(Math.abs(score - (row[['a', 'b', 'c'].indexOf(label)] as number))).toBeLessThan(1e-5);
  }
}

function expectSameAnswers(actual: ClassAnswer[], expected: ClassAnswer[], tolerance = 1e-5) {
  expect(actual.map((a) => a.label)).toEqual(expected.map((e) => e.label));
  for (const [i, a] of actual.entries()) {
    const e = expected[i] as ClassAnswer;
    expect(a.scores.map((s) => s.label)).toEqual(e.scores.map((s) => s.label));
    for (const [j, s] of a.scores.entries()) expect(Math.abs(s.score - (e.scores[j]?.score as number))).toBeLessThan(tolerance);
  }
}

describe('a classifier of logits or log-probabilities', () => {
  it('is recorded as such at push, from its last activation; a softmax or sigmoid head as probabilities', async () => {
    expect((await manifestOf('irislog')).scores).toBe('log-probabilities');
    expect((await manifestOf('irislogits')).scores).toBe('logits');
    expect((await manifestOf('spamlogits')).scores).toBe('logits');
    const again = await pushModelFolder(store, 'models/iris/versions/1', 'irisagain', { labels: (await manifestOf('iris')).labels });
    expect(again.scores).toBe('probabilities');
  });

  it.each([['irislog'], ['irislogits']])('%s answers the labels and probabilities of its softmax twin', async (model) => {
    expectSameAnswers(await predictions(model, irisRows), await predictions('iris', irisRows));
  });

  it('a single logit answers the positive class from 0 on, as its sigmoid twin does from 0.5', async () => {
    const [ours, twins] = [await predictions('spamlogits', spamTexts), await predictions('spam', spamTexts)];
    expectSameAnswers(ours, twins);
    // Rows a logit read as a probability (positive above 0.5, that is above P = sigmoid(0.5) = 0.62) would have got wrong.
    const p = twins.map((t) => (t.label === 'spam' ? t.score : 1 - t.score));
    expect(p.filter((q) => q > 0.5 && q <= 1 / (1 + Math.exp(-0.5))).length).toBeGreaterThan(0);
  });

  it.each([
    ['irislogits', 'iris', () => ({ name: 'features', shape: [10, 4], datatype: 'FP32', data: Array.from({ length: 40 }, (_, i) => Math.sin(i * 1.7) * 2) })],
    ['spamlogits', 'spam', () => ({ name: 'text', shape: [spamTexts.length], datatype: 'BYTES', data: spamTexts })],
  ])('%s keeps its own raw output in OIP infer, and labels it as %s does', async (model, twin, input) => {
    const infer = async (name: string) => {
      const answer = await call(app.predict, 'POST', `/v2/models/${name}/infer`, { inputs: [input()] });
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
      return answer.body.outputs as { name: string; shape: number[]; data: (number | string)[] }[];
    };
    type Output = { name: string; shape: number[]; data: (number | string)[] };
    const [[raw, labels], [probabilities, twinLabels]] = [await infer(model), await infer(twin)] as [Output, Output][];
    expect(labels.data).toEqual(twinLabels.data);
    // The raw output is the logits: its softmax (sigmoid, for one) is the twin's output, and it is not that output.
    const [rows, width] = raw.shape as [number, number];
    let apart = 0;
    for (let r = 0; r < rows; r += 1) {
      const row = (raw.data as number[]).slice(r * width, (r + 1) * width);
      const expected = (probabilities.data as number[]).slice(r * width, (r + 1) * width);
      const sum = row.reduce((s, z) => s + Math.exp(z), 0);
      const softmax = width === 1 ? [1 / (1 + Math.exp(-(row[0] as number)))] : row.map((z) => Math.exp(z) / sum);
      for (const [j, p] of softmax.entries()) expect(Math.abs(p - (expected[j] as number))).toBeLessThan(1e-5);
      apart = Math.max(apart, ...row.map((z, j) => Math.abs(z - (expected[j] as number))));
    }
    expect(apart).toBeGreaterThan(0.1);
  });

  it.each([
    ['irislog', 'iris', { dataset: '_datasets/iris-test.csv', labelColumn: 'species' }],
    ['irislogits', 'iris', { dataset: '_datasets/iris-test.csv', labelColumn: 'species' }],
    ['spamlogits', 'spam', { dataset: '_datasets/spam-test.jsonl' }],
  ])('%s evaluates as %s: accuracy, log loss and AUC of the probabilities', async (model, twin, body) => {
    const metricsOf = async (name: string) => {
      const answer = await call(app.evaluate, 'POST', `/v2/models/${name}/evaluate`, body);
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
      return answer.body.metrics as Record<string, number>;
    };
    const [ours, theirs] = [await metricsOf(model), await metricsOf(twin)];
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(ours.accuracy).toBe(theirs.accuracy);
    for (const name of Object.keys(theirs)) expect(Math.abs((ours[name] as number) - (theirs[name] as number)), name).toBeLessThan(1e-4);
  });

  it("fine-tunes with fit's accuracy of the probabilities: one logit's positive class from 0, as the version's metrics count it", async () => {
    const dataset = '_datasets/spam-test.jsonl';
    // A step too small to move a prediction: the accuracies are those of the model pushed, on rows some of which lie where the thresholds differ.
    const config = { epochs: 1, batchSize: 64, learningRate: 1e-9, seed: 3, trainableLayers: 'all' };
    const job = await createJob(store, 'fine-tune', { name: 'spamlogits', version: 1 }, { dataset, validation: { dataset }, config });
    await runJob({ store, loader: app.services.loader, limits: app.services.limits }, job.id, { 'fine-tune': fineTuneJob });
    const done = JSON.parse(await readFile(path.join(fileURLToPath(store.uri), '_jobs', `${job.id}.json`), 'utf8'));
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const { training, metrics } = await manifestOf('spamlogits', done.result.version);
    const twin = await call(app.evaluate, 'POST', '/v2/models/spam/evaluate', { dataset });
    expect(metrics.accuracy).toBe(twin.body.metrics.accuracy);
    expect(training.history.at(-1).val_acc).toBeCloseTo(metrics.accuracy, 6);
  });

  it("nested in an outer model, its logits fine-tune as the flat model's do: the loss is read from what push recorded", async () => {
    expect((await manifestOf('irisnested')).scores).toBe('logits');
    const dataset = '_datasets/iris-test.csv';
    const config = { epochs: 2, batchSize: 8, learningRate: 0.05, seed: 5, trainableLayers: 'all' };
    const fineTuned = async (name: string) => {
      const job = await createJob(store, 'fine-tune', { name, version: 1 }, { dataset, labelColumn: 'species', validation: { dataset, labelColumn: 'species' }, config });
      await runJob({ store, loader: app.services.loader, limits: app.services.limits }, job.id, { 'fine-tune': fineTuneJob });
      const done = JSON.parse(await readFile(path.join(fileURLToPath(store.uri), '_jobs', `${job.id}.json`), 'utf8'));
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      return { ...(await manifestOf(name, done.result.version)), version: done.result.version };
    };
    const [flat, nested] = [await fineTuned('irislogits'), await fineTuned('irisnested')];
    // Before, the nested head's logits were read as probabilities (categorical cross-entropy): its first loss was 16 off.
    for (const [i, epoch] of flat.training.history.entries()) {
      for (const key of ['loss', 'val_loss', 'acc', 'val_acc']) expect(Math.abs(nested.training.history[i][key] - epoch[key]), key).toBeLessThan(1e-4);
    }
    expect(nested.metrics.logLoss).toBeCloseTo(flat.metrics.logLoss, 4);
  });

  it.each([
    ['irislogits', 'iris', 'integratedGradients'],
    ['irislog', 'iris', 'saliency'],
    ['spamlogits', 'spam', 'integratedGradients'],
  ])('%s is explained as %s (%s): the probability of the predicted class', async (model, twin, method) => {
    const instances = twin === 'iris' ? irisRows.slice(0, 4) : spamTexts.slice(0, 3);
    const explain = async (name: string) => {
      const answer = await call(app.explain, 'POST', `/v2/models/${name}/explain`, { instances, method });
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
      return answer.body;
    };
    const [ours, theirs] = [await explain(model), await explain(twin)];
    expectSameAnswers(ours.predictions, theirs.predictions);
    // A tabular model's attributions are by feature, a text model's by token.
    type Attributed = { name?: string; token?: string; attribution: number };
    type Explanation = { target: unknown; score: number; features?: Attributed[]; tokens?: Attributed[] };
    const attributed = (e: Explanation) => (e.features ?? e.tokens ?? []).map((f) => ({ name: f.name ?? f.token, attribution: f.attribution }));
    for (const [i, e] of (theirs.data.explanations as Explanation[]).entries()) {
      const o = ours.data.explanations[i] as Explanation;
      expect(o.target).toEqual(e.target);
      expect(Math.abs(o.score - e.score)).toBeLessThan(1e-5);
      const [mine, expected] = [attributed(o), attributed(e)];
      expect(expected.length).toBeGreaterThan(0);
      expect(mine.map((f) => f.name)).toEqual(expected.map((f) => f.name));
      const scale = Math.max(...expected.map((f) => Math.abs(f.attribution)));
      for (const [j, f] of expected.entries()) expect(Math.abs((mine[j]?.attribution as number) - f.attribution) / scale, f.name).toBeLessThan(1e-3);
    }
  });
});

describe('a graph model', () => {
  const rows = Array.from({ length: 12 }, (_, r) => Array.from({ length: 4 }, (_, i) => Math.cos(r * 4 + i) * 3));
  const probabilitiesOf: Record<GraphHead, (out: tf.Tensor) => tf.Tensor> = { none: (z) => tf.softmax(z), LogSoftmax: tf.exp, Softmax: (p) => p, Relu: (v) => v };

  it.each([
    ['none', 'logits'],
    ['LogSoftmax', 'log-probabilities'],
    ['Softmax', 'probabilities'],
    // A fused activation other than a bias is not a linear output: not logits, so taken as given.
    ['Relu', 'probabilities'],
  ] as [GraphHead, string][])('whose head is %s holds %s, and answers the probabilities TF.js computes from them', async (head, scores) => {
    const folder = await writeHeadModel(head);
    const manifest = await pushModelFolder(store, folder, `head${head.toLowerCase()}`, { labels: ['a', 'b', 'c'] });
    expect(manifest.scores).toBe(scores);
    const model = await loadWrittenGraph(folder);
    const expected = tf.tidy(() => probabilitiesOf[head](model.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync() as number[][]);
    model.dispose();
    expectAnswersOf(await predictions(manifest.name, rows), expected);
  });

  it.each([
    ['logits', 'logits', (z: tf.Tensor) => tf.softmax(z)],
    // A sum of probabilities is not logits: its own values, as an unknown last op's are (before, it was softmaxed again).
    ['Softmax', 'probabilities', (p: tf.Tensor) => p],
  ] as [EnsembleMember, string, (out: tf.Tensor) => tf.Tensor][])(
    "whose output sums its members' %s holds %s, and answers from them as TF.js computes them",
    async (member, scores, reference) => {
      const folder = await writeEnsembleModel(member);
      const manifest = await pushModelFolder(store, folder, `ensemble${member.toLowerCase()}`, { labels: ['a', 'b', 'c'] });
      expect(manifest.scores).toBe(scores);
      const model = await loadWrittenGraph(folder);
      const expected = tf.tidy(() => reference(model.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync() as number[][]);
      model.dispose();
      expectAnswersOf(await predictions(manifest.name, rows), expected);
    },
  );

  it('an EinsumDense head over a temperature holds logits: answered, on wasm, as TF.js computes them on cpu, and explained with completeness', async () => {
    // wasm has no Einsum of its own (lib/runtime/wasmKernels/einsum.ts): the reference runs on cpu, which has.
    const folder = await writeEinsumHeadModel();
    const manifest = await pushModelFolder(store, folder, 'einsumhead', { labels: ['a', 'b', 'c'] });
    expect(manifest.scores).toBe('logits');
    await tf.setBackend('cpu');
    const model = await loadWrittenGraph(folder);
    const expected = tf.tidy(() => tf.softmax(model.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync() as number[][]);
    model.dispose();
    await tf.setBackend('wasm');
    expectAnswersOf(await predictions(manifest.name, rows), expected);
    // Integrated gradients through the Einsum's gradient (lib/runtime/gradients/einsum.ts): the
    // attributions add up to f(x) - f(baseline), up to the quadrature's error.
    const answer = await call(app.explain, 'POST', `/v2/models/${manifest.name}/explain`, { instances: rows.slice(0, 3), method: 'integratedGradients', steps: 64 });
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    type Explained = { target: { index: number }; score: number; baselineScore: number; attributions: number[] };
    for (const [r, e] of (answer.body.data.explanations as Explained[]).entries()) {
      expect(Math.abs(e.score - ((expected[r] as number[])[e.target.index] as number))).toBeLessThan(1e-5);
      const total = e.attributions.reduce((a, b) => a + b, 0);
      expect(Math.abs(e.score - e.baselineScore)).toBeGreaterThan(0.3); // a real change to account for
      expect(Math.abs(total - (e.score - e.baselineScore))).toBeLessThan(1e-3);
    }
  });

  it('takes its scores from the push when given, and refuses them for a regression', async () => {
    const folder = await writeHeadModel('Relu');
    expect((await pushModelFolder(store, folder, 'headrelulogits', { labels: ['a', 'b', 'c'], scores: 'logits' })).scores).toBe('logits');
    await expect(pushModelFolder(store, folder, 'headregression', { task: 'regression', scores: 'logits' })).rejects.toThrow(/scores logits: a regression's outputs are values/);
    // Class scores given without labels or a task: a classifier (a linear head without them is refused, classes and targets alike).
    const linear = await writeHeadModel('none');
    await expect(pushModelFolder(store, linear, 'headunsaid')).rejects.toThrow(/cannot tell whether the model classifies or regresses/);
    expect(await pushModelFolder(store, linear, 'headsaid', { scores: 'logits' })).toMatchObject({ task: 'classification', scores: 'logits' });
  });
});
