/**
 * The pure parts of the explainers, checked against the mathematics that defines them:
 * quadrature exactness, Shapley values by their definition, the coalition design, targets,
 * request checks and the mapping back to features and tokens.
 */
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { mapAttribution } from '../../lib/ops/explain/mapping.js';
import { gaussLegendre, trapezoid } from '../../lib/ops/explain/quadrature.js';
import { gaussian, uniform } from '../../lib/random.js';
import { explainRequest } from '../../lib/ops/explain/request.js';
import { type CoalitionDesign, coalitionAt, coalitionDesign, shapleyValues } from '../../lib/ops/explain/shapley.js';

/** The design's coalitions, each as its own array. */
const coalitionsOf = (design: CoalitionDesign) => Array.from({ length: design.count }, (_, k) => coalitionAt(design, k));
import { predictedTarget, resolveTarget, scoreOf, scoreRule, targetSpec } from '../../lib/ops/explain/target.js';
import { parseManifest, type Manifest } from '../../lib/registry/index.js';

function manifest(fields: Record<string, unknown>): Manifest {
  return parseManifest(
    {
      name: 'm',
      version: 1,
      format: 'layers',
      task: 'classification',
      signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 3] }] },
      files: {},
      createdAt: '2026-01-01T00:00:00Z',
      ...fields,
    },
    'test',
  );
}

describe('quadrature', () => {
  it.each([1, 2, 3, 7, 50, 1024])('Gauss-Legendre with %i nodes: weights sum to 1 and degree 2n-1 is exact', (n) => {
    const { alphas, weights } = gaussLegendre(n);
    const integrate = (f: (a: number) => number) => alphas.reduce((s, a, i) => s + weights[i] * f(a), 0);
    expect(integrate(() => 1)).toBeCloseTo(1, 12);
    expect(integrate((a) => a ** (2 * n - 1))).toBeCloseTo(1 / (2 * n), 12);
    expect(Math.min(...alphas)).toBeGreaterThan(0);
    expect(Math.max(...alphas)).toBeLessThan(1);
  });

  it('trapezoid: both ends, equal spacing, exact on linear functions', () => {
    const { alphas, weights } = trapezoid(5);
    expect(Array.from(alphas)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(Array.from(weights)).toEqual([0.125, 0.25, 0.25, 0.25, 0.125]);
    expect(alphas.reduce((s, a, i) => s + weights[i] * (3 * a + 1), 0)).toBeCloseTo(2.5, 14);
    expect(() => trapezoid(1)).toThrow(RangeError);
  });
});

/** v(S) for every subset S (bit mask) -> Shapley values by their definition. */
function shapleyByDefinition(m: number, value: (mask: number) => number): number[] {
  const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1));
  const bits = (mask: number) =>
    mask
      .toString(2)
      .split('')
      .filter((b) => b === '1').length;
  return Array.from({ length: m }, (_, i) => {
    let phi = 0;
    for (let mask = 0; mask < 1 << m; mask++) {
      if (mask & (1 << i)) continue;
      const s = bits(mask);
      phi += ((factorial(s) * factorial(m - s - 1)) / factorial(m)) * (value(mask | (1 << i)) - value(mask));
    }
    return phi;
  });
}

/** A game with interactions: v(S) = sum of a_j over S + b * [both 0 and 1 in S] + c * |S|^2. */
function game(m: number, seed: number): (mask: number) => number {
  const random = uniform(seed);
  const a = Array.from({ length: m }, () => random() * 2 - 1);
  return (mask) => {
    let v = 0;
    let size = 0;
    for (let j = 0; j < m; j++) if (mask & (1 << j)) [v, size] = [v + a[j], size + 1];
    if ((mask & 3) === 3) v += 0.7;
    return v + 0.05 * size * size;
  };
}

function solveGame(m: number, value: (mask: number) => number, budget: number, seed = 1) {
  const design = coalitionDesign(m, budget, uniform(seed));
  const values = Float64Array.from(coalitionsOf(design), (z) => value(z.reduce((mask, bit, j) => mask | (bit << j), 0)));
  return { design, phi: Array.from(shapleyValues(design, values, value(0), value((1 << m) - 1), m)) };
}

describe('KernelSHAP arithmetic', () => {
  it.each([2, 3, 4, 5, 8, 10])('with %i features enumerates every coalition and equals the Shapley values by definition', (m) => {
    const value = game(m, m);
    const { design, phi } = solveGame(m, value, Infinity);
    expect(design.exact).toBe(true);
    expect(design.count).toBe(2 ** m - 2);
    expect(new Set(coalitionsOf(design).map((z) => z.join(''))).size).toBe(2 ** m - 2);
    shapleyByDefinition(m, value).forEach((expected, j) => expect(phi[j]).toBeCloseTo(expected, 10));
    // Efficiency.
    expect(phi.reduce((a, b) => a + b, 0)).toBeCloseTo(value((1 << m) - 1) - value(0), 12);
  });

  it('a budget of 2^M - 2 or more is exact too; a smaller one samples, keeping efficiency', () => {
    const m = 6;
    const value = game(m, 6);
    expect(solveGame(m, value, 62).design.exact).toBe(true);
    const sampled = solveGame(m, value, 40);
    expect(sampled.design.exact).toBe(false);
    expect(sampled.design.count).toBeLessThanOrEqual(40);
    expect(sampled.phi.reduce((a, b) => a + b, 0)).toBeCloseTo(value((1 << m) - 1) - value(0), 12);
  });

  it('on an additive game, a sampled design of 30 features recovers every contribution exactly', () => {
    const m = 30;
    const random = uniform(7);
    const a = Array.from({ length: m }, () => random() - 0.5);
    const design = coalitionDesign(m, 512, uniform(3));
    expect(design.exact).toBe(false);
    const values = Float64Array.from(coalitionsOf(design), (z) => z.reduce((s, bit, j) => s + bit * a[j], 0));
    const phi = shapleyValues(
      design,
      values,
      0,
      a.reduce((s, v) => s + v, 0),
      m,
    );
    a.forEach((expected, j) => expect(phi[j]).toBeCloseTo(expected, 9));
  });

  it('sampled values approach the exact ones with more samples (12 features, 4094 coalitions)', () => {
    const m = 12;
    const value = game(m, 12);
    const exact = shapleyByDefinition(m, value);
    const scale = Math.max(...exact.map(Math.abs));
    // Worst error over 3 seeds, relative to the largest value.
    const error = (budget: number) => Math.max(...[1, 2, 3].flatMap((seed) => solveGame(m, value, budget, seed).phi.map((p, j) => Math.abs(p - exact[j]) / scale)));
    const [few, many] = [error(100), error(2000)];
    expect(many).toBeLessThan(few / 2);
    expect(many).toBeLessThan(0.05);
    expect(error(4094)).toBeLessThan(1e-12);
  });

  it('handles 0 and 1 features', () => {
    expect(Array.from(shapleyValues(coalitionDesign(0, 10, uniform(0)), new Float64Array(0), 1, 2, 0))).toEqual([]);
    expect(Array.from(shapleyValues(coalitionDesign(1, 10, uniform(0)), new Float64Array(0), 0.25, 1, 1))).toEqual([0.75]);
  });
});

describe('targets', () => {
  const classes = targetSpec(manifest({ labels: ['a', 'b', 'c'] }), 3);
  const binary = targetSpec(manifest({ task: 'binary', labels: ['ham', 'spam'] }), 1);
  const regression = targetSpec(manifest({ task: 'regression' }), 2);

  it.each([
    [classes, 'b', 1],
    [classes, 2, 2],
    [classes, '0', 0],
    [binary, 'spam', 1],
    [binary, 0, 0],
    [regression, 1, 1],
    [classes, undefined, undefined],
  ])('resolves %#: %j -> %j', (spec, requested, expected) => {
    expect(resolveTarget(spec, requested)).toBe(expected);
  });

  it.each([
    [classes, 'd', /"d" is not a label.*"a", "b", "c" or an index 0..2/],
    [classes, 3, /3 is out of range/],
    [binary, 2, /out of range/],
    [regression, 'x', /not an output index.*an index 0..1/],
  ])('refuses %#: %j', (spec, requested, message) => {
    expect(() => resolveTarget(spec, requested)).toThrow(BadRequestError);
    expect(() => resolveTarget(spec, requested)).toThrow(message);
  });

  it('reads scores: class probability, P or 1 - P for binary, the output value', () => {
    expect(scoreOf(scoreRule(classes, 2), [0.1, 0.2, 0.7])).toBeCloseTo(0.7, 12);
    expect(scoreOf(scoreRule(binary, 1), [0.8])).toBeCloseTo(0.8, 12);
    expect(scoreOf(scoreRule(binary, 0), [0.8])).toBeCloseTo(0.2, 6);
    expect(scoreOf(scoreRule(regression, 1), [3, -4])).toBe(-4);
    expect([predictedTarget(classes, [0.1, 0.7, 0.2]), predictedTarget(binary, [0.3]), predictedTarget(binary, [0.6])]).toEqual([1, 0, 1]);
  });
});

describe('explain requests', () => {
  const parse = (body: object) => explainRequest.parse(body);

  it('defaults to integrated gradients of the predicted class (the KServe v1 body)', () => {
    expect(parse({ instances: [[1, 2, 3]] })).toMatchObject({ method: 'integratedGradients' });
  });

  it.each([
    [{ instances: [[1]], method: 'saliency', steps: 10 }, /saliency does not take steps \(integratedGradients\): it takes no parameters/],
    [{ instances: [[1]], nSamples: 10 }, /integratedGradients does not take nSamples \(kernelShap\)/],
    [{ instances: [[1]], method: 'kernelShap', noiseLevel: 0.1 }, /kernelShap does not take noiseLevel \(smoothGrad\)/],
    [{ instances: [[1]], integration: 'trapezoid', steps: 1 }, /at least 2 points/],
  ])('refuses parameters of another method: %j', (body, message) => {
    expect(() => parse(body)).toThrow(message);
  });

  it.each([
    [{ instances: [] }, /instances/],
    [{ instances: [[1]], method: 'lime' }, /method/],
    [{ instances: [[1]], steps: 1025 }, /steps/],
    [{ instances: [[1]], steps: 2.5 }, /steps/],
    [{ instances: [[1]], target: -1 }, /target/],
    [{ instances: [[1]], extra: 1 }, /extra/],
  ])('schema refuses %j', (body, message) => {
    const parsed = explainRequest.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(message);
  });
});

describe('seeded noise', () => {
  it('is standard normal and reproducible', () => {
    const draw = gaussian(42);
    const values = Array.from({ length: 20000 }, draw);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(variance).toBeCloseTo(1, 1);
    const again = gaussian(42);
    expect(Array.from({ length: 5 }, again)).toEqual(values.slice(0, 5));
  });
});

describe('mapping attributions back', () => {
  const space = (size: number) => ({ spec: { name: 'x', dtype: 'float32' as const, shape: [-1, size] }, rowShape: [size], size });

  it('tabular: one entry per feature, sorted by magnitude; gradients per unit of the value as sent', () => {
    const m = manifest({ transforms: { input: { kind: 'tabular', features: [{ name: 'a', mean: 1, std: 2 }, { name: 'b', mean: 0, std: 4 }, { name: 'c' }] } } });
    const base = { instance: { a: 3, b: 4, c: 5 }, natural: true, row: Float32Array.of(1, 1, 5), values: Float32Array.of(0.5, -2, 1), png: false };
    expect(mapAttribution(m, space(3), { ...base, gradient: false })).toEqual({
      features: [
        { name: 'b', value: 4, attribution: -2 },
        { name: 'c', value: 5, attribution: 1 },
        { name: 'a', value: 3, attribution: 0.5 },
      ],
    });
    expect(mapAttribution(m, space(3), { ...base, gradient: true })).toEqual({
      features: [
        { name: 'c', value: 5, attribution: 1 },
        { name: 'b', value: 4, attribution: -0.5 },
        { name: 'a', value: 3, attribution: 0.25 },
      ],
    });
  });

  it('text: tokens in the original order, each occurrence with its word, unknown words marked; words sum with the rest', () => {
    const m = manifest({ task: 'binary', transforms: { input: { kind: 'text', vocabulary: ['free', 'money', 'meeting', 'now'] } } });
    const mapped = mapAttribution(m, space(4), {
      gradient: false,
      instance: 'Free money, FREE now zzz',
      natural: true,
      row: Float32Array.of(1, 1, 0, 1),
      values: Float32Array.of(0.5, 0.25, -0.125, 0.0625),
      png: false,
    });
    expect(mapped).toEqual({
      tokens: [
        { token: 'free', attribution: 0.5, inVocabulary: true },
        { token: 'money', attribution: 0.25, inVocabulary: true },
        { token: 'free', attribution: 0.5, inVocabulary: true },
        { token: 'now', attribution: 0.0625, inVocabulary: true },
        { token: 'zzz', attribution: 0, inVocabulary: false },
      ],
      words: [
        { word: 'free', count: 2, attribution: 0.5 },
        { word: 'money', count: 1, attribution: 0.25 },
        { word: 'now', count: 1, attribution: 0.0625 },
      ],
      otherWords: -0.125,
    });
  });
});
