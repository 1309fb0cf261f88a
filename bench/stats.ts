/** Percentiles and a timing loop with warm-up: the only statistics the bench needs. */

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of already sorted values (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), min: sorted[0], max: sorted[sorted.length - 1], mean };
}

export function median(samples: number[]): number {
  return percentile(
    [...samples].sort((a, b) => a - b),
    50,
  );
}

/** Milliseconds, rounded for tables and JSON (0.001 ms resolution). */
export const round = (ms: number, digits = 3): number => Math.round(ms * 10 ** digits) / 10 ** digits;

export type Task = () => Promise<unknown>;

/**
 * Times several tasks against each other: after `warmup` untimed rounds, each of `iterations`
 * rounds runs every task once, in an order that rotates every round, so that drift on a shared
 * machine (other jobs, GC, CPU frequency) falls on all of them alike and their ratio stays fair.
 */
export async function compare(tasks: Record<string, Task>, options: { warmup: number; iterations: number }): Promise<Record<string, number[]>> {
  const names = Object.keys(tasks);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < options.warmup + options.iterations; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      const started = performance.now();
      await tasks[name]();
      const elapsed = performance.now() - started;
      if (round >= options.warmup) samples[name].push(elapsed);
    }
  }
  return samples;
}
