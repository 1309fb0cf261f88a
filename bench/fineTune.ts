/**
 * Fine-tune bench: one epoch of our training loop (seeded shuffle, validation, NaN checks) against
 * a bare model.fit of the same epoch on the same data and backend; and one digits conv epoch on
 * wasm against cpu. Runnable alone: npx tsx bench/fineTune.ts [--quick]
 */
import * as tf from '@tensorflow/tfjs-core';
// The cpu backend is registered on demand in the bundles (lib/runtime/backend.ts); compared against here.
import '@tensorflow/tfjs-backend-cpu';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { readVersion, type LoadedModel } from '../lib/loader/readVersion.js';
import { loadLabelledData, pick, splitRows, targetsOf, type LabelledData } from '../lib/ops/fineTune/data.js';
import { fineTuneConfig } from '../lib/ops/fineTune/request.js';
import { train } from '../lib/ops/fineTune/train.js';
import { initBackend } from '../lib/runtime/backend.js';
import { localLimits } from '../lib/runtime/memory.js';
import { FolderStore } from '../lib/store/folder.js';
import { compare, median, round } from './stats.js';
import type { Target } from './targets.js';

export interface FineTuneBench {
  epoch: { model: string; rows: number; oursMs: number; rawFitMs: number; ratio: number }[];
  backends: { model: string; rows: number; wasmMs: number; cpuMs: number; speedup: number };
  targets: Target[];
}

const store = new FolderStore('models');

async function dataOf(model: LoadedModel, dataset: string, labelColumn: string, rows?: number): Promise<{ trainData: LabelledData; validation: LabelledData }> {
  const data = await loadLabelledData(store, model, { dataset, labelColumn }, localLimits().budget);
  // Rows beyond the file's are its rows again (resampled in order): an epoch long enough to time.
  const limited = rows
    ? pick(
        data,
        Array.from({ length: rows }, (_, i) => i % data.truths.length),
      )
    : data;
  const split = splitRows(limited.truths.length, 0.2, 42);
  return { trainData: pick(limited, split.train), validation: pick(limited, split.validation) };
}

async function ourEpoch(name: string, data: { trainData: LabelledData; validation: LabelledData }): Promise<void> {
  const base = await readVersion(store, name, 1);
  try {
    await train(base.model as LayersModel, base.manifest, data.trainData, data.validation, fineTuneConfig.parse({ epochs: 1 }));
  } finally {
    base.model.dispose();
  }
}

async function rawEpoch(name: string, data: { trainData: LabelledData; validation: LabelledData }): Promise<void> {
  const base = await readVersion(store, name, 1);
  const model = base.model as LayersModel;
  const optimizer = tf.train.adam(0.001);
  const loss = base.manifest.task === 'regression' ? 'meanSquaredError' : base.manifest.task === 'binary' ? 'binaryCrossentropy' : 'categoricalCrossentropy';
  model.compile({ optimizer, loss, metrics: base.manifest.task === 'regression' ? ['mse'] : ['accuracy'] });
  const tensor = (d: LabelledData) => [tf.tensor(d.x, [d.truths.length, ...d.rowShape]), targetsOf(base.manifest, d.truths)] as const;
  const [x, y] = tensor(data.trainData);
  const [xv, yv] = tensor(data.validation);
  try {
    await model.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false, verbose: 0, validationData: [xv, yv] });
  } finally {
    tf.dispose([x, y, xv, yv]);
    optimizer.dispose();
    model.dispose();
  }
}

export async function benchFineTune(options: { quick?: boolean } = {}): Promise<FineTuneBench> {
  await initBackend();
  const previous = tf.getBackend();
  const epoch: FineTuneBench['epoch'] = [];
  for (const [name, dataset, labelColumn] of [
    ['iris', '_datasets/iris-test.csv', 'species'],
    ['digits', '_datasets/digits-test.jsonl', 'label'],
  ] as const) {
    const loaded = await readVersion(store, name, 1);
    const data = await dataOf(loaded, dataset, labelColumn, name === 'iris' ? 6000 : options.quick ? 500 : undefined);
    loaded.model.dispose();
    const samples = await compare({ ours: () => ourEpoch(name, data), raw: () => rawEpoch(name, data) }, { warmup: 1, iterations: options.quick ? 2 : 4 });
    const oursMs = median(samples.ours);
    const rawFitMs = median(samples.raw);
    epoch.push({ model: name, rows: data.trainData.truths.length, oursMs: round(oursMs, 1), rawFitMs: round(rawFitMs, 1), ratio: round(oursMs / rawFitMs, 2) });
  }
  // Stock cpu takes seconds per conv batch: a small slice of digits is enough for the ratio.
  const loaded = await readVersion(store, 'digits', 1);
  const small = await dataOf(loaded, '_datasets/digits-test.jsonl', 'label', options.quick ? 80 : 160);
  loaded.model.dispose();
  const timeOn = async (backend: string) => {
    await tf.setBackend(backend);
    const started = performance.now();
    await ourEpoch('digits', small);
    return performance.now() - started;
  };
  await timeOn('wasm'); // warm-up (kernels compiled, XNNPACK caches)
  const wasmMs = await timeOn('wasm');
  const cpuMs = await timeOn('cpu');
  await tf.setBackend(previous);
  const backends = { model: 'digits', rows: small.trainData.truths.length, wasmMs: round(wasmMs, 1), cpuMs: round(cpuMs, 1), speedup: round(cpuMs / wasmMs, 1) };
  const targets = [
    ...epoch.map((e) => ({ name: `fine-tune epoch / raw fit (${e.model})`, target: '<= 1.2', value: e.ratio, met: e.ratio <= 1.2 })),
    { name: 'digits fine-tune epoch, cpu / wasm', target: 'wasm faster (ratio > 1)', value: backends.speedup, met: backends.speedup > 1 },
  ];
  return { epoch, backends, targets };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchFineTune({ quick: process.argv.includes('--quick') });
  console.log(JSON.stringify(result, null, 2));
}
