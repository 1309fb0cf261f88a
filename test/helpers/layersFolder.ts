/**
 * A layers model as a TF.js model folder (model.json + weights.bin), written by TF.js's own save
 * and read back by its own load: what a user pushes, and the reference a fine-tuned version is
 * compared with. Plus the small binary data set the fine-tune tests of one-unit and two-unit
 * heads train on: a row is positive when its first value exceeds its second.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export async function saveLayersFolder(model: tfl.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const modelJson = { format: 'layers-model', modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] };
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** A folder with one weights.bin (as saveLayersFolder and the service write), loaded by TF.js itself. */
export async function loadLayersFolder(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  const bytes = await readFile(path.join(dir, 'weights.bin'));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
}

/** 120 rows of two values; 'yes' when the first exceeds the second. */
export const PAIRS = Array.from({ length: 120 }, (_, i) => [Math.sin(i), Math.cos(i * 1.3)]);
export const PAIR_LABELS = PAIRS.map(([a, b]) => ((a as number) > (b as number) ? 'yes' : 'no'));
