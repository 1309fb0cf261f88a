/**
 * Which output a name means (registry/manifest.ts outputIndexNamed), when a graph's signature keys
 * and its nodes overlap: the exact name first, then the node; a tensor's name (`node:0`) means its
 * node first. And distinctNames: a layer's second output is head_1, as Keras names it.
 */
import { describe, expect, it } from 'vitest';
import { distinctNames, outputIndexNamed, type TensorSpec } from '../../lib/registry/manifest.js';

const spec = (name: string, node?: string): TensorSpec => ({ name, dtype: 'float32', shape: [-1, 1], ...(node ? { node } : {}) });
// Key Identity on node Identity_1, key Identity_1 on node Identity: each name is the other's node.
const crossed = [spec('Identity', 'Identity_1'), spec('Identity_1', 'Identity')];

describe('outputIndexNamed', () => {
  it('takes the output of that name before the one computed by a node of that name', () => {
    expect(outputIndexNamed(crossed, 'Identity')).toBe(0);
    expect(outputIndexNamed(crossed, 'Identity_1')).toBe(1);
  });

  it('takes a tensor name (node:0) as its node first', () => {
    expect(outputIndexNamed(crossed, 'Identity:0')).toBe(1);
    expect(outputIndexNamed(crossed, 'Identity_1:0')).toBe(0);
    expect(outputIndexNamed([spec('age_output', 'Identity_2'), spec('probs')], 'age_output:0')).toBe(0);
    expect(outputIndexNamed([spec('age_output', 'Identity_2'), spec('probs')], 'probs:0')).toBe(1);
  });

  it('is -1 for a name no output has', () => {
    expect(outputIndexNamed(crossed, 'Identity_2')).toBe(-1);
    expect(outputIndexNamed(crossed, '')).toBe(-1);
  });
});

describe('distinctNames', () => {
  it('names a layer second output head_1, its third head_2, and leaves distinct names alone', () => {
    expect(distinctNames(['head', 'probs', 'head', 'head'])).toEqual(['head', 'probs', 'head_1', 'head_2']);
    expect(distinctNames(['head', 'head_1', 'head'])).toEqual(['head', 'head_1', 'head_2']);
  });
});
