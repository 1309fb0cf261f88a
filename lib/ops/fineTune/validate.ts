/** Validation metrics of a model on labelled data, computed like evaluate's (same accumulators). */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Manifest } from '../../registry/index.js';
import { inChunks, type RunLimits } from '../../runtime/memory.js';
import { forwardBytesPerRow, predictTensors } from '../../runtime/tfModel.js';
import { ClassificationAccumulator } from '../evaluate/classification.js';
import { headline } from '../evaluate/evaluate.js';
import { probabilityRow } from '../../protocol/probabilities.js';
import { classNames } from '../evaluate/examples.js';
import { RegressionAccumulator } from '../evaluate/regression.js';
import type { LabelledData } from './data.js';

/** The model's output rows on the data, run in chunks that fit the memory budget. */
async function outputRows(model: LayersModel, manifest: Manifest, data: LabelledData, limits: RunLimits): Promise<number[][]> {
  const width = data.rowShape.reduce((a, b) => a * b, 1);
  const rows: number[][] = [];
  const plan = {
    model,
    name: `${manifest.name}:${manifest.version}`,
    pass: 'forward' as const,
    rows: data.truths.length,
    maxRows: limits.maxBatch,
    budget: limits.budget,
    estimate: forwardBytesPerRow(model),
  };
  await inChunks(plan, async (from, to) => {
    // Run as predict runs (runtime/tfModel.ts's predictTensors: one batch when the rows are small).
    const x = tf.tensor(data.x.subarray(from * width, to * width), [to - from, ...data.rowShape]);
    let outputs: tf.Tensor[] = [];
    try {
      outputs = await predictTensors(model, [x]);
      rows.push(...((await outputs[0].array()) as number[][]));
    } finally {
      x.dispose();
      for (const t of outputs) t.dispose();
    }
  });
  return rows;
}

export async function validationMetrics(model: LayersModel, manifest: Manifest, data: LabelledData, limits: RunLimits): Promise<Record<string, number>> {
  // As evaluate: probabilities, whatever the output holds.
  const rows = (await outputRows(model, manifest, data, limits)).map((row) => probabilityRow(manifest, row));
  if (manifest.task === 'regression') {
    const acc = new RegressionAccumulator();
    acc.add(
      data.truths,
      rows.map((r) => r[0]),
    );
    return headline(manifest, acc.report());
  }
  const binary = manifest.task === 'binary';
  const acc = new ClassificationAccumulator(classNames(manifest), { binary });
  // One unit: P(positive), expanded to both classes; two units hold both already.
  acc.add(data.truths, binary ? rows.map((r) => (r.length === 1 ? [1 - r[0], r[0]] : r)) : rows);
  return headline(manifest, acc.report());
}

/** Whether `candidate` beats `current` on a metric (lower is better for losses and errors). */
export function isBetter(metric: string, candidate: number | undefined, current: number | undefined): boolean {
  if (candidate === undefined || !Number.isFinite(candidate)) return false;
  if (current === undefined || !Number.isFinite(current)) return true;
  const lowerIsBetter = ['logLoss', 'mse', 'rmse', 'mae', 'maxError'].includes(metric);
  return lowerIsBetter ? candidate < current : candidate > current;
}
