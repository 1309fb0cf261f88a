/**
 * Twins of a demo model whose output activation is another (log_softmax, linear: logits) with the
 * same weights: what a model trained by other code looks like (a PyTorch-style head, Keras's
 * from_logits=True). Its probabilities are its twin's, computed another way.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { ManifestFields } from '../../lib/registry/index.js';
import type { ObjectStore } from '../../lib/store/index.js';

/** Pushes models/<model>'s version 1 as `name`, its one `from` activation made `to`; the manifest's task, labels and transforms as the model's (`fields` added). */
export async function pushTwin(store: ObjectStore, model: string, from: string, to: string, name: string, fields: Partial<ManifestFields> = {}): Promise<void> {
  const twin = await mkdtemp(path.join(tmpdir(), `${name}-`));
  const topology = await readFile(`models/${model}/versions/1/model.json`, 'utf8');
  const activation = new RegExp(`"activation": ?"${from}"`, 'g');
  expect(topology.match(activation)).toHaveLength(1);
  await writeFile(path.join(twin, 'model.json'), topology.replace(activation, `"activation": "${to}"`));
  await cp(`models/${model}/versions/1/weights.bin`, path.join(twin, 'weights.bin'));
  const { task, labels, transforms } = JSON.parse(await readFile(`models/${model}/versions/1/manifest.json`, 'utf8'));
  await pushModelFolder(store, twin, name, { task, labels, transforms, ...fields });
}
