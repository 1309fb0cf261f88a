/**
 * Points and weights on [0, 1] for the integrated-gradients path integral.
 *
 * Gauss-Legendre (the default, as in Captum): n nodes integrate polynomials of degree 2n - 1
 * exactly, so the smooth stretches of a network's path converge much faster than with a Riemann
 * sum; the nodes are interior (neither the baseline nor the input itself is a node).
 * Trapezoid: n equally spaced points including both ends, weights 1/(n-1) halved at the ends.
 */

export interface Quadrature {
  /** Path positions alpha in [0, 1]. */
  alphas: Float64Array;
  /** Weights summing to 1. */
  weights: Float64Array;
}

/** Legendre nodes by Newton's method on P_n from Tricomi's initial guesses (double precision). */
export function gaussLegendre(n: number): Quadrature {
  const alphas = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      // P_n(x) and P_n'(x) by the three-term recurrence.
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      derivative = (n * (x * p1 - p0)) / (x * x - 1);
      const step = p1 / derivative;
      x -= step;
      if (Math.abs(step) < 1e-15) break;
    }
    const w = 2 / ((1 - x * x) * derivative * derivative);
    // Node x on [-1, 1] -> (1 + x) / 2 on [0, 1]; weights halve. Symmetric pairs.
    alphas[i] = (1 - x) / 2;
    alphas[n - 1 - i] = (1 + x) / 2;
    weights[i] = weights[n - 1 - i] = w / 2;
  }
  if (n % 2 === 1) alphas[(n - 1) / 2] = 0.5; // exact middle node
  return { alphas, weights };
}

export function trapezoid(n: number): Quadrature {
  if (n < 2) throw new RangeError('the trapezoid rule needs at least 2 points');
  const alphas = Float64Array.from({ length: n }, (_, i) => i / (n - 1));
  const weights = Float64Array.from({ length: n }, (_, i) => (i === 0 || i === n - 1 ? 0.5 : 1) / (n - 1));
  return { alphas, weights };
}
