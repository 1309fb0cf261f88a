/**
 * Triton's classification extension on /infer (docs/protocol/extension_classification.md in
 * triton-inference-server/server): an output asked with parameters.classification: k answers BYTES
 * of shape [rows, min(k, classes)], each "value:index[:label]", highest first. It was ignored: the
 * raw FP32 output came back, which a Triton client reads as strings.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { readBinaryResponse } from '../helpers/binaryClient.js';
import { call, serving, type App } from '../helpers/serving.js';

let app: App;
beforeAll(() => {
  app = serving('file://models');
});

const IRIS_LABELS = ['setosa', 'versicolor', 'virginica'];
const irisRows = { name: 'features', shape: [3, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3, 5.9, 2.8, 4.3, 1.3] };
const infer = (model: string, body: unknown) => call(app.predict, 'POST', `/v2/models/${model}/infer`, body);

describe('OIP classification extension', () => {
  it("answers each row's top k of the output, as value:index:label, ranked as the raw output ranks", async () => {
    const raw = (await infer('iris', { inputs: [irisRows], outputs: [{ name: 'probabilities' }] })).body.outputs[0].data as number[];
    const answer = await infer('iris', { id: 'c1', inputs: [irisRows], outputs: [{ name: 'probabilities', parameters: { classification: 2 } }] });
    expect(answer.statusCode).toBe(200);
    expect(answer.body.id).toBe('c1');
    const [output] = answer.body.outputs;
    expect(output).toMatchObject({ name: 'probabilities', datatype: 'BYTES', shape: [3, 2] });
    for (let r = 0; r < 3; r += 1) {
      const row = raw.slice(r * 3, r * 3 + 3);
      const top = [0, 1, 2].sort((a, b) => row[b] - row[a]).slice(0, 2);
      const got = (output.data as string[]).slice(r * 2, r * 2 + 2).map((s) => s.split(':'));
      expect(got.map(([, index]) => Number(index))).toEqual(top);
      expect(got.map(([, , label]) => label)).toEqual(top.map((i) => IRIS_LABELS[i]));
      for (const [k, [value]] of got.entries()) {
        expect(value).toMatch(/^\d+\.\d{6}$/);
        expect(Math.abs(Number(value) - row[top[k]])).toBeLessThanOrEqual(5e-7);
      }
    }
  });

  it('an output asked twice is a 400 naming the second entry, as Triton refuses it, before the model runs', async () => {
    const before = tf.memory().numTensors;
    for (const second of [{ name: 'probabilities' }, { name: 'probabilities', parameters: { binary_data: true } }]) {
      const answer = await infer('iris', { inputs: [irisRows], outputs: [{ name: 'probabilities', parameters: { classification: 2 } }, second] });
      expect(answer.statusCode).toBe(400);
      expect(answer.body.error).toMatch(/^outputs\[1\]: output "probabilities" is already requested/);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a k past the classes gives them all; the same strings come back in binary', async () => {
    const outputs = [{ name: 'probabilities', parameters: { classification: 10 } }];
    const json = (await infer('iris', { inputs: [irisRows], outputs })).body.outputs[0];
    expect(json.shape).toEqual([3, 3]);
    const binary = (await app.predict({
      method: 'POST',
      path: '/v2/models/iris/infer',
      body: { inputs: [irisRows], outputs, parameters: { binary_data_output: true } },
    })) as unknown as {
      headers: Record<string, string>;
      body: string;
    };
    const bytes = new Uint8Array(Buffer.from(binary.body, 'base64'));
    const decoded = readBinaryResponse(bytes, Number(binary.headers['inference-header-content-length'])).outputs[0];
    expect(decoded).toEqual({ name: 'probabilities', datatype: 'BYTES', shape: [3, 3], data: json.data });
  });

  it("no label where the labels do not name the output's indices (a binary model's one probability)", async () => {
    const text = { name: 'text', shape: [1], datatype: 'BYTES', data: ['WIN a FREE prize now! Click here to claim your cash'] };
    const answer = await infer('spam', { inputs: [text], outputs: [{ name: 'spam_probability', parameters: { classification: 3 } }, { name: 'label' }] });
    expect(answer.statusCode).toBe(200);
    expect(answer.body.outputs[0]).toMatchObject({ datatype: 'BYTES', shape: [1, 1] });
    expect(answer.body.outputs[0].data[0]).toMatch(/^0\.\d{6}:0$/);
    expect(answer.body.outputs[1].data).toEqual(['spam']);
  });

  it('0 asks for none (as in Triton); a count that is not one, or an output of labels: 400 naming it', async () => {
    const asked = (classification: unknown, name = 'probabilities') => infer('iris', { inputs: [irisRows], outputs: [{ name, parameters: { classification } }] });
    expect((await asked(0)).body.outputs[0]).toMatchObject({ datatype: 'FP32', shape: [3, 3] });
    for (const bad of [1.5, -1, '2', true]) {
      const answer = await asked(bad);
      expect(answer.statusCode).toBe(400);
      expect(answer.body.error).toContain('outputs[0].parameters.classification');
    }
    const labels = await asked(1, 'label');
    expect(labels.statusCode).toBe(400);
    expect(labels.body.error).toContain('datatype BYTES');
  });

  it('leaves no tensor behind, and GET /v2 lists the extension', async () => {
    const before = tf.memory().numTensors;
    await infer('iris', { inputs: [irisRows], outputs: [{ name: 'probabilities', parameters: { classification: 1 } }] });
    await infer('iris', { inputs: [irisRows], outputs: [{ name: 'label', parameters: { classification: 1 } }] });
    expect(tf.memory().numTensors).toBe(before);
    expect((await call(app.metadata, 'GET', '/v2')).body.extensions).toContain('classification');
  });
});
