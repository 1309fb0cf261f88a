/**
 * A Keras model as a user brings it: `modelctl push model.keras` (the real CLI) into a copy of
 * models/, then the real `serverless offline` serves it: predict (the convnet's own 1.png answers
 * what its notebook printed: a 1), evaluate on the digits data set (its accuracy is the share of
 * the labels predict gives), explain (a saliency map of the image's size) and fine-tune (a job that
 * writes a child version).
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOffline, type Offline } from '../helpers/offline.js';

const run = promisify(execFile);
let offline: Offline;
let pushed: string;

beforeAll(async () => {
  const copy = await mkdtemp(path.join(tmpdir(), 'models-'));
  await cp('models', copy, { recursive: true });
  const env = { ...process.env, MODEL_STORE_URI: pathToFileURL(copy).href };
  const labels = Array.from({ length: 10 }, (_, i) => String(i)).join(',');
  const args = ['push', 'test/fixtures/keras/convnet_mnist_keras3_1.keras', '--name', 'mnist', '--image', '28x28x1', '--fit', 'mnist', '--invert', 'auto', '--labels', labels];
  pushed = (await run(path.resolve('bin/modelctl.js'), args, { env })).stdout;
  offline = await startOffline({ MODEL_STORE_URI: pathToFileURL(copy).href });
}, 180_000);
afterAll(async () => offline?.stop());

async function http(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${offline.url}${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

const digits = async (n: number) =>
  (await readFile('models/_datasets/digits-test.jsonl', 'utf8'))
    .trim()
    .split('\n')
    .slice(0, n)
    .map((line) => JSON.parse(line) as { image: { b64: string }; label: string });

describe('a .keras file pushed with modelctl, served by serverless offline', () => {
  it('was pushed as version 1 with its lineage', async () => {
    expect(pushed).toMatch(/pushed mnist:1 \(layers, classification\)/);
    const version = (await http('GET', '/v2/models/mnist/versions/1')).body;
    expect(version.lineage).toMatchObject({ sourceFormat: 'keras', kerasVersion: '3.1.1' });
  });

  it('predicts the 1 of its own repository image', async () => {
    const image = (await readFile('test/fixtures/keras/reference/convnet_mnist_1.png')).toString('base64');
    const answer = await http('POST', '/v1/models/mnist:predict', { instances: [{ b64: image }] });
    expect(answer.status).toBe(200);
    expect(answer.body.predictions[0].label).toBe('1');
  });

  it('evaluates: the accuracy is the share of labels predict gives', async () => {
    const rows = await digits(40);
    const instances = rows.map((r) => r.image);
    const labels = rows.map((r) => r.label);
    const predicted = (await http('POST', '/v1/models/mnist:predict', { instances })).body.predictions.map((p: { label: string }) => p.label);
    const evaluation = await http('POST', '/v2/models/mnist/evaluate', { instances, labels });
    expect(evaluation.status).toBe(200);
    const share = predicted.filter((label: string, i: number) => label === labels[i]).length / labels.length;
    expect(evaluation.body.metrics.accuracy).toBeCloseTo(share, 10);
  });

  it('explains an image with a saliency map of its size', async () => {
    const [row] = await digits(1);
    const answer = await http('POST', '/v2/models/mnist/explain', { instances: [row.image], method: 'saliency' });
    expect(answer.status).toBe(200);
    const [explanation] = answer.body.data.explanations;
    expect(explanation.target.label).toBe((await http('POST', '/v1/models/mnist:predict', { instances: [row.image] })).body.predictions[0].label);
    expect(explanation.heatmap.flat()).toHaveLength(28 * 28);
  });

  it('fine-tunes into a child version', async () => {
    const rows = await digits(64);
    const accepted = await http('POST', '/v2/models/mnist/fine-tune', { instances: rows.map((r) => r.image), labels: rows.map((r) => r.label), config: { epochs: 1 } });
    expect(accepted.status).toBe(202);
    let job = (await http('GET', `/v2/jobs/${accepted.body.id}`)).body;
    for (let i = 0; i < 600 && job.status !== 'succeeded' && job.status !== 'failed'; i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await http('GET', `/v2/jobs/${accepted.body.id}`)).body;
    }
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect((await http('GET', `/v2/models/mnist/versions/${job.result.version}`)).body.lineage).toMatchObject({ parent: 1, jobId: job.id });
  });
});
