/**
 * OIP model metadata describes every output infer can answer, so a client that reads the metadata
 * first (as KServe and Triton clients do) can ask for each by name: a classifier's `label` output
 * was answered but not described.
 */
import { describe, expect, it } from 'vitest';
import { call, serving } from '../helpers/serving.js';

const app = serving(new URL('../../models', import.meta.url).href);

/** A valid request for each demo model, built from its metadata (zeros of the first input's shape). */
async function zeroRequest(model: string) {
  const meta = (await call(app.metadata, 'GET', `/v2/models/${model}`)).body;
  const input = meta.inputs[0] as { name: string; datatype: string; shape: number[] };
  const shape = input.shape.map((d) => (d === -1 ? 1 : d));
  return { meta, input: { name: input.name, datatype: input.datatype, shape, data: new Array(shape.reduce((a, b) => a * b, 1)).fill(0) } };
}

describe('OIP metadata outputs', () => {
  it.each([
    ['iris', true],
    ['spam', true],
    ['digits', true],
    ['housing', false],
  ])('%s: the outputs infer answers, each of them askable by name (label: %s)', async (model, classifier) => {
    const { meta, input } = await zeroRequest(model);
    const described = (meta.outputs as { name: string; datatype: string }[]).map((o) => o.name);
    const answered = (await call(app.predict, 'POST', `/v2/models/${model}/infer`, { inputs: [input] })).body.outputs.map((o: { name: string }) => o.name);
    expect(described).toEqual(answered);
    expect(described.includes('label')).toBe(classifier);
    for (const name of described) {
      const one = await call(app.predict, 'POST', `/v2/models/${model}/infer`, { inputs: [input], outputs: [{ name }] });
      expect(one.body.outputs.map((o: { name: string }) => o.name)).toEqual([name]);
      expect(one.body.outputs[0].datatype).toBe(meta.outputs.find((o: { name: string }) => o.name === name).datatype);
    }
  });
});

// open_inference_rest.yaml: a $parameter's value is a string, a number or a boolean (never a list or an object).
describe('OIP metadata parameters', () => {
  it.each(['iris', 'spam', 'digits', 'housing'])('%s: every parameter of the model, its inputs and outputs is a string, number or boolean', async (model) => {
    const meta = (await call(app.metadata, 'GET', `/v2/models/${model}`)).body;
    const parameters = [meta.parameters, ...meta.inputs.map((i: { parameters?: unknown }) => i.parameters), ...meta.outputs.map((o: { parameters?: unknown }) => o.parameters)];
    const values = parameters.flatMap((p) => Object.values((p ?? {}) as Record<string, unknown>));
    expect(values.length).toBeGreaterThan(0);
    for (const value of values) expect(['string', 'number', 'boolean']).toContain(typeof value);
  });
});
