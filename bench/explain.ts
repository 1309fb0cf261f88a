/**
 * Explanation cost (part of `npm run bench`, or alone: `npx tsx bench/explain.ts [--quick]`), on the
 * default backend (wasm unless TFJS_BACKEND says otherwise), in this process, with the service's
 * source.
 *
 * 1. Integrated gradients on digits, one image, 50 steps (the explain service: decode, forward pass
 *    for the prediction, baseline pass, one batched gradient pass over the 50 path points) against
 *    one raw predict of a 50-row batch (the rows already as a tensor: tidy(model.predict(x)) +
 *    data(), as bench/latency.ts measures raw). Target: ratio <= 3. The gradient pass alone is
 *    timed too, to show where the time goes.
 *    Also through the handlers, as a client sees it: explain on one PNG against predict on 50 PNGs
 *    (decoding and the MNIST fit included on both sides). For information, not a target.
 * 2. Exact KernelSHAP on iris, one instance (4 features: 16 coalitions x 20 background rows).
 *    Target: p50 < 100 ms.
 * 3. For information: every method on every demo model, one instance, default parameters.
 * Rounds rotate the order of the tasks (stats.ts compare), so drift on a shared machine falls on
 * all of them alike.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { LoadedModel } from '../lib/loader/index.js';
import { measureMobileNetExplain, type MobileNetExplainResult } from './mobileNetExplain.js';
import { compare, median, round, summarize } from './stats.js';
import { atMost, type Target } from './targets.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');

export interface ExplainCostRow {
  model: string;
  method: string;
  params: string;
  p50: number;
  p99: number;
  runs: number;
}

export interface ExplainBenchResult {
  backend: string;
  /** Integrated gradients on one digit, 50 steps, against one raw predict of 50 rows (ms, medians). */
  integratedGradients: { explainP50: number; gradientPassP50: number; predict50P50: number; ratio: number; runs: number };
  /** The same through the handlers: explain (1 PNG, IG 50 steps) against predict (50 PNGs), ms. */
  handlers: { explainP50: number; predict50P50: number; ratio: number; runs: number };
  /** MobileNetV2 on a photo: saliency and 50-step IG (bench/mobileNetExplain.ts). */
  mobileNet?: MobileNetExplainResult;
  /** Exact KernelSHAP on one iris instance (ms). */
  kernelShapIris: { p50: number; p99: number; coalitions: number; backgroundRows: number; runs: number };
  methods: ExplainCostRow[];
  targets: Target[];
  notes: string[];
}

function firstLine(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(repoRoot, 'models', '_datasets', file), 'utf8').split('\n')[0]) as Record<string, unknown>;
}

export async function measureExplain(options: { quick?: boolean } = {}): Promise<ExplainBenchResult> {
  process.env.MODEL_STORE_URI ??= pathToFileURL(path.join(repoRoot, 'models')).href;
  const { loader } = await (await import('./services.js')).benchServices();
  const { explain } = await import('../lib/ops/explain/service.js');
  const { explainRequest } = await import('../lib/ops/explain/request.js');
  const { encodeRows } = await import('../lib/ops/explain/inputs.js');
  const { backendName, initBackend } = await import('../lib/runtime/backend.js');
  const { parseModelRef } = await import('../lib/registry/index.js');
  await initBackend();
  const backend = backendName();
  const quick = options.quick === true;
  const rounds = { warmup: 10, iterations: quick ? 10 : 40 };
  const notes: string[] = [];
  const limits = (await import('../lib/runtime/memory.js')).localLimits(256);
  const withModel = <T>(name: string, fn: (loaded: LoadedModel) => Promise<T>) => loader.withModel(parseModelRef(`${name}:1`), fn);

  // 1. Integrated gradients on digits vs one predict of 50 rows.
  const digit = firstLine('digits-test.jsonl').image;
  const ig = await withModel('digits', async (loaded) => {
    const request = explainRequest.parse({ instances: [digit], method: 'integratedGradients', steps: 50 });
    const { rows, space } = await encodeRows(loaded.manifest, [digit], 'bench', limits.budget);
    const model = loaded.model as unknown as { predict(x: tf.Tensor): tf.Tensor; apply(x: tf.Tensor): tf.Tensor };
    const x50 = tf.tidy(() => tf.tile(tf.tensor(rows.data, [1, ...space.rowShape]), [50, 1, 1, 1]));
    const x52 = tf.tidy(() => tf.tile(tf.tensor(rows.data, [1, ...space.rowShape]), [52, 1, 1, 1]));
    const weights = tf.tidy(() => tf.oneHot(tf.fill([52], 0, 'int32'), 10));
    try {
      const samples = await compare(
        {
          explain: () => explain(loaded, request, limits),
          gradientPass: async () => {
            const g = tf.tidy(() => tf.grad((z: tf.Tensor) => tf.sum(tf.mul(model.apply(z), weights)))(x52));
            await g.data();
            g.dispose();
          },
          predict50: async () => {
            const y = tf.tidy(() => model.predict(x50));
            await y.data();
            y.dispose();
          },
        },
        rounds,
      );
      const [explainP50, gradientPassP50, predict50P50] = [median(samples.explain), median(samples.gradientPass), median(samples.predict50)];
      return {
        explainP50: round(explainP50),
        gradientPassP50: round(gradientPassP50),
        predict50P50: round(predict50P50),
        ratio: round(explainP50 / predict50P50, 2),
        runs: rounds.iterations,
      };
    } finally {
      tf.dispose([x50, x52, weights]);
    }
  });

  // 1b. The same as a client sees it: the explain handler on one PNG against the predict handler on 50.
  const handlers = await withModel('digits', async () => {
    const explainHandler = (await import('../handlers/explain.js')).handler as (event: unknown) => Promise<{ statusCode: number }>;
    const predictHandler = (await import('../handlers/predict.js')).handler as (event: unknown) => Promise<{ statusCode: number }>;
    const explainEvent = { method: 'POST', path: '/v2/models/digits/versions/1/explain', body: { instances: [digit] } };
    const predictEvent = { method: 'POST', path: '/v1/models/digits/versions/1:predict', body: { instances: Array(50).fill(digit) } };
    const check = async (handler: (event: unknown) => Promise<{ statusCode: number }>, event: object) => {
      const answer = await handler(event);
      if (answer.statusCode !== 200) throw new Error(`${JSON.stringify(event).slice(0, 80)} answered ${answer.statusCode}`);
    };
    const samples = await compare({ explain: () => check(explainHandler, explainEvent), predict: () => check(predictHandler, predictEvent) }, rounds);
    const [explainP50, predict50P50] = [median(samples.explain), median(samples.predict)];
    return { explainP50: round(explainP50), predict50P50: round(predict50P50), ratio: round(explainP50 / predict50P50, 2), runs: rounds.iterations };
  });

  // 2. Exact KernelSHAP on iris.
  const irisCsv = readFileSync(path.join(repoRoot, 'models', '_datasets', 'iris-test.csv'), 'utf8')
    .trim()
    .split('\n');
  const names = irisCsv[0].split(',').slice(0, 4);
  const flower = Object.fromEntries(names.map((n, i) => [n, Number(irisCsv[1].split(',')[i])]));
  const shap = await withModel('iris', async (loaded) => {
    const request = explainRequest.parse({ instances: [flower], method: 'kernelShap' });
    const first = await explain(loaded, request, limits);
    const samples = await compare({ kernelShap: () => explain(loaded, request, limits) }, rounds);
    const stats = summarize(samples.kernelShap);
    return {
      p50: round(stats.p50),
      p99: round(stats.p99),
      coalitions: first.data.explanations[0].coalitions as number,
      backgroundRows: loaded.manifest.background?.length ?? 0,
      runs: rounds.iterations,
    };
  });
  if (!(shap.coalitions === 16)) notes.push(`kernelShap on iris used ${shap.coalitions} coalitions (expected 16: exact)`);

  // 3. Every method on every demo model, one instance.
  const instances: Record<string, unknown> = {
    iris: flower,
    housing: (() => {
      const lines = readFileSync(path.join(repoRoot, 'models', '_datasets', 'housing-test.csv'), 'utf8')
        .trim()
        .split('\n');
      const head = lines[0].split(',');
      const values = lines[1].split(',');
      return Object.fromEntries(head.filter((h) => h !== 'medv').map((h) => [h, Number(values[head.indexOf(h)])]));
    })(),
    spam: firstLine('spam-test.jsonl').text,
    digits: digit,
  };
  const methods: ExplainCostRow[] = [];
  for (const [name, instance] of Object.entries(instances)) {
    await withModel(name, async (loaded) => {
      for (const method of ['integratedGradients', 'saliency', 'smoothGrad', 'kernelShap']) {
        const request = explainRequest.parse({ instances: [instance], method });
        try {
          const answer = await explain(loaded, request, limits);
          const heavy = name === 'digits' && method === 'kernelShap';
          const samples = await compare(
            { run: () => explain(loaded, request, limits) },
            heavy ? { warmup: 1, iterations: quick ? 2 : 5 } : { warmup: 2, iterations: quick ? 5 : 15 },
          );
          const stats = summarize(samples.run);
          const params = Object.entries(answer.meta.params)
            .filter(([k]) => k !== 'target')
            .map(([k, v]) => `${k}=${v}`)
            .join(' ');
          methods.push({ model: name, method, params, p50: round(stats.p50), p99: round(stats.p99), runs: stats.n });
        } catch (error) {
          notes.push(`${name} ${method} skipped: ${(error as Error).message}`);
        }
      }
    });
  }

  // 4. A MobileNet-sized model on a photo, within a 2048 MB function's budget.
  let mobileNet: MobileNetExplainResult | undefined;
  const storeDir = await mkdtemp(path.join(tmpdir(), 'bench-mobilenet-store-'));
  try {
    mobileNet = await measureMobileNetExplain({ quick, storeDir });
  } catch (error) {
    notes.push(`MobileNetV2 explanations skipped: ${(error as Error).message}`);
  } finally {
    await rm(storeDir, { recursive: true, force: true });
  }

  const targets = [
    atMost('integrated gradients digits 50 steps / predict of 50 rows (p50)', 3, 'x', ig.ratio, `backend ${backend}`),
    atMost('exact KernelSHAP iris, one instance (p50)', 100, 'ms', shap.p50, `backend ${backend}`),
    atMost("MobileNetV2 integrated gradients 50 steps, one photo, 2048 MB budget (API Gateway's 29 s)", 29_000, 'ms', mobileNet?.integratedGradients50Ms),
  ];
  return { backend, integratedGradients: ig, handlers, kernelShapIris: shap, mobileNet, methods, targets, notes };
}

/** The console tables of this section. */
export async function formatExplain(result: ExplainBenchResult): Promise<string> {
  const { formatTable } = await import('./table.js');
  const ig = result.integratedGradients;
  return [
    formatTable(
      ['explain cost', 'p50 ms', 'reference', 'ratio'],
      [
        ['digits integratedGradients, 1 image, 50 steps', ig.explainP50, `raw predict of 50 rows ${ig.predict50P50} ms`, ig.ratio],
        ['  of which the gradient pass alone (52 rows)', ig.gradientPassP50, '', round(ig.gradientPassP50 / ig.predict50P50, 2)],
        ['digits explain handler, 1 PNG, IG 50 steps', result.handlers.explainP50, `predict handler, 50 PNGs ${result.handlers.predict50P50} ms`, result.handlers.ratio],
        ['iris kernelShap exact (16 coalitions x 20 rows)', result.kernelShapIris.p50, `p99 ${result.kernelShapIris.p99} ms`, ''],
        ...(result.mobileNet
          ? [
              ['MobileNetV2 saliency, 1 photo', result.mobileNet.saliencyMs, '', ''],
              [
                'MobileNetV2 integratedGradients, 1 photo, 50 steps',
                result.mobileNet.integratedGradients50Ms,
                `raw predict of 50 rows ${result.mobileNet.predict50Ms} ms`,
                result.mobileNet.ratio,
              ],
            ]
          : []),
      ],
    ),
    `(explain service in process, backend ${result.backend}; raw = tidy(model.predict(x)) + data() on 50 rows already as a tensor; medians of ${ig.runs} interleaved rounds)\n`,
    formatTable(
      ['model', 'method', 'params', 'p50 ms', 'p99 ms'],
      result.methods.map((r) => [r.model, r.method, r.params, r.p50, r.p99]),
    ),
    '(one instance, default parameters)\n',
    formatTable(
      ['target', 'limit', 'value', 'met'],
      result.targets.map((t) => [t.name, t.target, t.value, t.met === null ? `n/a (${t.note})` : t.met ? 'met' : 'UNMET']),
    ),
  ].join('\n');
}

// Alone: npx tsx bench/explain.ts [--quick]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const quick = process.argv.includes('--quick');
  const result = await measureExplain({ quick });
  console.log(await formatExplain(result));
  for (const note of result.notes) console.log(`note: ${note}`);
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
