/**
 * KernelSHAP's arithmetic (Lundberg & Lee 2017), with no model in sight: which coalitions to
 * evaluate, and the Shapley values from their values by weighted least squares under the
 * efficiency constraint sum(phi) = f(x) - E[f(background)].
 *
 * The coalition design follows the shap library's KernelExplainer: coalition sizes are taken in
 * pairs (s and M - s, a coalition and its complement), the sizes whose every subset fits in the
 * budget are enumerated with their exact Shapley-kernel weights, and the rest are sampled with
 * probability proportional to the kernel. When everything fits (2^M - 2 <= budget) the design is
 * every coalition with its exact weight, and the regression gives the exact Shapley values.
 */

export interface CoalitionDesign {
  /**
   * The coalitions, `count` of them, each as `features` bytes of 0/1 (one a feature), one after
   * another in one array (coalitionAt). Neither the empty nor the full coalition is included. An
   * array a coalition, with a 196-character key for each drawn one, grew a process by 79 MB for
   * 65,536 coalitions of 196 features (a 256 MB function's explain budget keeps a 64 MB margin for
   * what it does not count); now about 16 MB.
   */
  masks: Uint8Array;
  count: number;
  features: number;
  weights: Float64Array;
  /** Every coalition was enumerated: the values are the exact Shapley values. */
  exact: boolean;
}

/** Coalition k of the design: 0/1 per feature (a view into its masks). */
export function coalitionAt(design: CoalitionDesign, k: number): Uint8Array {
  return design.masks.subarray(k * design.features, (k + 1) * design.features);
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return Math.round(result);
}

/** All subsets of {0..m-1} of a size, in lexicographic order. */
function* subsetsOfSize(m: number, size: number): Generator<number[]> {
  const picked = Array.from({ length: size }, (_, i) => i);
  while (true) {
    yield picked.slice();
    let i = size - 1;
    while (i >= 0 && picked[i] === m - size + i) i--;
    if (i < 0) return;
    picked[i]++;
    for (let j = i + 1; j < size; j++) picked[j] = picked[j - 1] + 1;
  }
}

/** The most coalitions coalitionDesign(m, budget) holds (exactly that many unless its draws run out on repeats), known before drawing any. */
export function coalitionCount(m: number, budget: number): number {
  if (m < 2) return 0;
  return Math.min(budget, m <= 30 ? 2 ** m - 2 : Infinity);
}

/** A mask's key for finding repeats: its bits, 16 a character (13 characters for 196 features, not 196). */
function keyOf(mask: Uint8Array, words: Uint16Array): string {
  words.fill(0);
  for (let j = 0; j < mask.length; j++) words[j >> 4] |= mask[j] << (j & 15);
  return String.fromCharCode(...words);
}

/** `m` features, at most `budget` coalitions (finite, or m <= 30: the masks are sized for the most the design may hold). */
export function coalitionDesign(m: number, budget: number, random: () => number): CoalitionDesign {
  const weights: number[] = [];
  if (m < 2) return { masks: new Uint8Array(0), count: 0, features: m, weights: new Float64Array(0), exact: true };
  const masks = new Uint8Array(coalitionCount(m, budget) * m);
  let count = 0;
  /** The next coalition's mask, all zeros, counted in the design. */
  const next = () => masks.subarray(count * m, ++count * m);
  /** The next coalition as the complement of `mask`. */
  const complement = (mask: Uint8Array) => {
    const out = next();
    for (let j = 0; j < m; j++) out[j] = 1 - mask[j];
    return out;
  };
  let samplesLeft = coalitionCount(m, budget);
  const sizes = Math.ceil((m - 1) / 2);
  const pairedSizes = Math.floor((m - 1) / 2);
  // Kernel mass of each size s (and of m - s when paired): (m - 1) / (s (m - s)) per subset size.
  const kernel = Array.from({ length: sizes }, (_, i) => ((m - 1) / ((i + 1) * (m - i - 1))) * (i < pairedSizes ? 2 : 1));
  const total = kernel.reduce((a, b) => a + b, 0);
  const mass = kernel.map((k) => k / total);
  let remaining = mass.slice();
  let fullSizes = 0;
  for (let size = 1; size <= sizes; size++) {
    const paired = size <= pairedSizes;
    const subsets = binomial(m, size) * (paired ? 2 : 1);
    if ((samplesLeft * remaining[size - 1]) / subsets < 1 - 1e-8) break;
    fullSizes++;
    samplesLeft -= subsets;
    if (remaining[size - 1] < 1) {
      const rest = 1 - remaining[size - 1];
      remaining = remaining.map((r) => r / rest);
    }
    const w = mass[size - 1] / binomial(m, size) / (paired ? 2 : 1);
    for (const subset of subsetsOfSize(m, size)) {
      const mask = next();
      for (const j of subset) mask[j] = 1;
      weights.push(w);
      if (paired) {
        complement(mask);
        weights.push(w);
      }
    }
  }
  const design = (exact: boolean): CoalitionDesign => ({ masks: masks.subarray(0, count * m), count, features: m, weights: Float64Array.from(weights), exact });
  if (fullSizes === sizes) return design(true);

  // Sample the sizes left, paired with complements; a repeat adds weight to the first draw.
  const fixed = count;
  const left = mass.slice(fullSizes).map((p, i) => (i + fullSizes < pairedSizes ? p / 2 : p));
  const leftTotal = left.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  left.reduce((acc, p, i) => (cumulative[i] = acc + p / leftTotal), 0);
  const seen = new Map<string, number>();
  const words = new Uint16Array(Math.ceil(m / 16));
  const drawn = new Uint8Array(m);
  const flipped = new Uint8Array(m);
  /** Adds a coalition (when `fresh` and budget is left) or weighs a repeat once more; true when added. */
  const add = (mask: Uint8Array, fresh: boolean): boolean => {
    const key = keyOf(mask, words);
    const at = seen.get(key);
    if (at !== undefined) {
      weights[at] += 1;
      return false;
    }
    if (!fresh || samplesLeft <= 0) return false;
    seen.set(key, count);
    next().set(mask);
    weights.push(1);
    samplesLeft--;
    return true;
  };
  const order = Array.from({ length: m }, (_, i) => i);
  for (let draws = 0; samplesLeft > 0 && draws < 4 * budget; draws++) {
    const u = random();
    let pick = cumulative.findIndex((c) => u < c);
    if (pick < 0) pick = left.length - 1;
    const size = pick + fullSizes + 1;
    // Partial Fisher-Yates: the first `size` of a random permutation.
    for (let i = 0; i < size; i++) {
      const j = i + Math.floor(random() * (m - i));
      [order[i], order[j]] = [order[j], order[i]];
    }
    drawn.fill(0);
    for (let i = 0; i < size; i++) drawn[order[i]] = 1;
    const isNew = add(drawn, true);
    if (size <= pairedSizes) {
      for (let j = 0; j < m; j++) flipped[j] = 1 - drawn[j];
      add(flipped, isNew);
    }
  }
  // The sampled coalitions share the kernel mass the enumerated sizes left over.
  const massLeft = mass.slice(fullSizes).reduce((a, b) => a + b, 0);
  const sampledWeight = weights.slice(fixed).reduce((a, b) => a + b, 0);
  for (let k = fixed; k < weights.length; k++) weights[k] *= massLeft / sampledWeight;
  return design(false);
}

/** Solves A x = b (n x n, row-major) by Gaussian elimination with partial pivoting; a null pivot gives 0. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n);
  const scale = Math.max(1e-300, ...Array.from({ length: n }, (_, i) => Math.abs(a[i * n + i])));
  const pivots = new Int32Array(n).fill(-1);
  for (let col = 0; col < n; col++) {
    let best = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]) > Math.abs(a[best * n + col])) best = r;
    if (Math.abs(a[best * n + col]) <= 1e-12 * scale) continue; // not determined by the design
    if (best !== col) {
      for (let c = 0; c < n; c++) [a[col * n + c], a[best * n + c]] = [a[best * n + c], a[col * n + c]];
      [b[col], b[best]] = [b[best], b[col]];
    }
    pivots[col] = col;
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col] / a[col * n + col];
      if (f === 0) continue;
      for (let c = col; c < n; c++) a[r * n + c] -= f * a[col * n + c];
      b[r] -= f * b[col];
    }
  }
  for (let col = n - 1; col >= 0; col--) {
    if (pivots[col] < 0) continue;
    let s = b[col];
    for (let c = col + 1; c < n; c++) s -= a[col * n + c] * x[c];
    x[col] = s / a[col * n + col];
  }
  return x;
}

/**
 * Shapley values from the design's coalition values, with sum(phi) = full - empty enforced by
 * eliminating the last feature (shap's KernelExplainer.solve).
 */
export function shapleyValues(design: CoalitionDesign, values: Float64Array, empty: number, full: number, m: number): Float64Array {
  const phi = new Float64Array(m);
  const gap = full - empty;
  if (m === 0) return phi;
  if (m === 1) {
    phi[0] = gap;
    return phi;
  }
  const n = m - 1;
  const ata = new Float64Array(n * n);
  const atb = new Float64Array(n);
  const row = new Float64Array(n);
  for (let k = 0; k < design.count; k++) {
    const z = coalitionAt(design, k);
    const w = design.weights[k];
    const last = z[n];
    const y = values[k] - empty - last * gap;
    for (let j = 0; j < n; j++) row[j] = z[j] - last;
    for (let i = 0; i < n; i++) {
      if (row[i] === 0) continue;
      const wi = w * row[i];
      atb[i] += wi * y;
      for (let j = 0; j < n; j++) ata[i * n + j] += wi * row[j];
    }
  }
  const solution = solve(ata, atb, n);
  let sum = 0;
  for (let j = 0; j < n; j++) {
    phi[j] = solution[j];
    sum += solution[j];
  }
  phi[n] = gap - sum;
  return phi;
}
