/**
 * Twins of a demo model whose output activation is another (log_softmax, linear: logits) with the
 * same weights: what a model trained by other code looks like (a PyTorch-style head, Keras's
 * from_logits=True). Its probabilities are its twin's, computed another way.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { initBackend } from '../../lib/runtime/backend.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { ManifestFields } from '../../lib/registry/index.js';
import type { FolderStore } from '../../lib/store/folder.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { tempFolderStore } from './stores.js';

/** Pushes models/<model>'s version 1 as `name`, its one `from` activation made `to`; the manifest's task, labels and transforms as the model's (`fields` added). */
async function pushTwin(store: ObjectStore, model: string, from: string, to: string, name: string, fields: Partial<ManifestFields> = {}): Promise<void> {
  const twin = await mkdtemp(path.join(tmpdir(), `${name}-`));
  const topology = await readFile(`models/${model}/versions/1/model.json`, 'utf8');
  const activation = new RegExp(`"activation": ?"${from}"`, 'g');
  expect(topology.match(activation)).toHaveLength(1);
  await writeFile(path.join(twin, 'model.json'), topology.replace(activation, `"activation": "${to}"`));
  await cp(`models/${model}/versions/1/weights.bin`, path.join(twin, 'weights.bin'));
  const { task, labels, transforms } = JSON.parse(await readFile(`models/${model}/versions/1/manifest.json`, 'utf8'));
  await pushModelFolder(store, twin, name, { task, labels, transforms, ...fields });
}

/**
 * pushTwin's twin as a model nested in an outer functional model (as a base model and its head are
 * when wrapped for transfer learning): the same function, its output layer one level down.
 */
export async function pushNestedTwin(store: ObjectStore, model: string, from: string, to: string, name: string): Promise<void> {
  await initBackend();
  const json = JSON.parse((await readFile(`models/${model}/versions/1/model.json`, 'utf8')).replace(new RegExp(`"activation": ?"${from}"`), `"activation": "${to}"`));
  const weightData = new Uint8Array(await readFile(`models/${model}/versions/1/weights.bin`)).buffer;
  const inner = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
  const input = tfl.input({ shape: [4], name: 'outer_features' });
  const outer = tfl.model({ inputs: input, outputs: inner.apply(input) as tfl.SymbolicTensor });
  const twin = await mkdtemp(path.join(tmpdir(), `${name}-`));
  await outer.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightsManifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }];
      await writeFile(path.join(twin, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: artifacts.modelTopology, weightsManifest }));
      await writeFile(path.join(twin, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  outer.dispose();
  const { task, labels, transforms } = JSON.parse(await readFile(`models/${model}/versions/1/manifest.json`, 'utf8'));
  await pushModelFolder(store, twin, name, { task, labels, transforms });
}

/** A temp folder store holding the demo models (and data sets) and their twins irislog, irislogits (iris) and spamlogits (spam). */
export async function storeWithTwins(): Promise<FolderStore> {
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  await pushTwin(store, 'iris', 'softmax', 'log_softmax', 'irislog');
  await pushTwin(store, 'iris', 'softmax', 'linear', 'irislogits');
  await pushTwin(store, 'spam', 'sigmoid', 'linear', 'spamlogits');
  return store;
}
