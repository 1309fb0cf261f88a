/**
 * A binary model's row scored exactly 0.5 gets one label on every route: predict, OIP infer,
 * explain's default target and evaluate's confusion matrix all decide by the same rule
 * (protocol/answers.ts isPositive). They used to split: predict said "ham", explain explained
 * "spam" and evaluate counted the row as spam.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, serving, type App } from '../helpers/serving.js';

let app: App;
// One word of the demo spam model's vocabulary at the value that makes its logit exactly 0.
const tie = new Array(1000).fill(0);
tie[512] = 0.04777471348643303;

beforeAll(() => {
  app = serving(new URL('../../models', import.meta.url).href);
});

describe('a binary row scored exactly 0.5', () => {
  it('is the same class on predict, infer, explain and evaluate', async () => {
    const infer = await call(app.predict, 'POST', '/v2/models/spam/infer', { inputs: [{ name: 'bag_of_words', shape: [1, 1000], datatype: 'FP32', data: tie }] });
    const outputs = Object.fromEntries((infer.body.outputs as { name: string; data: unknown[] }[]).map((o) => [o.name, o.data]));
    const score = Object.entries(outputs).find(([name]) => name !== 'label')?.[1] as number[];
    expect(score).toEqual([0.5]); // else this test proves nothing

    const predicted = (await call(app.predict, 'POST', '/v1/models/spam:predict', { instances: [tie], raw: false })).body.predictions[0].label;
    const explained = (await call(app.explain, 'POST', '/v2/models/spam/explain', { instances: [tie], method: 'integratedGradients', steps: 4 })).body;
    const evaluated = (await call(app.evaluate, 'POST', '/v2/models/spam/evaluate', { instances: [tie], labels: [predicted] })).body;

    expect(outputs.label).toEqual([predicted]);
    expect(explained.data.explanations[0].target.label).toBe(predicted);
    expect(evaluated.metrics.accuracy).toBe(1);
  });
});
