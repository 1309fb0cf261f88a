/**
 * The tabular input kind's settings (lib/inputs/tabular.ts) for the demo models: the model is
 * trained on standardised columns, then the standardisation is folded into its first layer, so
 * the served model takes the measurements as they are (a raw tensor row and the same row by
 * feature name give the same answer).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { tabularKind, type TabularSettings } from '../../lib/inputs/tabular.js';

/** Mean and population standard deviation of each column of the training rows (std 1 for a constant column). */
export function fitTabular(names: string[], rows: number[][]): TabularSettings {
  const features = names.map((name, column) => {
    const values = rows.map((row) => row[column]);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
    return { name, mean, std: variance > 0 ? Math.sqrt(variance) : 1 };
  });
  return { kind: 'tabular', features, standardize: true };
}

/** (value - mean) / std per column: what the model is trained on. */
export function applyTabular(settings: TabularSettings, rows: number[][]): number[][] {
  return rows.map((row) => settings.features.map((f, column) => (row[column] - f.mean) / f.std));
}

/**
 * Folds the standardisation into the first dense layer: x W + b on z = (x - mean) / std equals
 * x W' + b' with W'[i] = W[i] / std[i] and b' = b - sum_i (mean[i] / std[i]) W[i]. Returns the
 * settings to serve with: the same statistics, no longer applied by the service.
 */
export function foldStandardization(model: tfl.LayersModel, settings: TabularSettings): TabularSettings {
  const first = model.layers.find((layer) => layer.getWeights().length === 2);
  if (!first) throw new Error(`${model.name}: no dense layer to fold the standardisation into`);
  const [kernel, bias] = first.getWeights();
  const folded = tf.tidy(() => {
    const std = tf.tensor2d(
      settings.features.map((f) => f.std),
      [settings.features.length, 1],
    );
    const shift = tf.tensor2d([settings.features.map((f) => f.mean / f.std)], [1, settings.features.length]);
    return [tf.div(kernel, std), tf.sub(bias, tf.reshape(tf.matMul(shift, kernel), bias.shape))];
  });
  first.setWeights(folded);
  tf.dispose(folded);
  return { ...settings, standardize: false };
}

/**
 * Rows as the predict API encodes them (lib/inputs/tabular.ts, from named feature records):
 * the model input of the held-out rows, so their metrics are those of the served pipeline.
 */
export function servedTabular(settings: TabularSettings, rows: number[][]): Promise<Float32Array> {
  const records = rows.map((row) => Object.fromEntries(settings.features.map((f, column) => [f.name, row[column]])));
  return tabularKind.encode(settings, records, (r) => `held-out rows[${r}]`);
}
