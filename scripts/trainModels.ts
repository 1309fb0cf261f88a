/**
 * Trains the demo models from data sets shipped as npm packages and writes them into models/ (a
 * folder store) as version 1 of each, with alias `production` -> 1.
 *
 *   npm run models:train                      all four: iris, spam, digits, housing
 *   npm run models:train -- --only iris,spam  a subset; other models in models/ are left alone
 *   npm run models:train -- --seed 7          another seed (default 42)
 *   npm run models:train -- --out /tmp/m      into another folder (default models/)
 *
 * Each model's held-out test rows are written too, as a data set in the store:
 * models/_datasets/<name>-test.csv or .jsonl (the manifest's training.heldOut names it and its
 * label column). The manifest's `metrics` are measured on exactly those rows through the predict
 * path's transforms and the evaluate service's metric code, so evaluating the model on its
 * held-out set through the API reproduces them. `_datasets/` cannot be a model: names start with [a-z0-9].
 *
 * Runs are repeatable: seeded shuffles and splits, seeded initialisers, fit without shuffling, on
 * the cpu backend. Versions are immutable, so everything is built in a fresh temporary store
 * first and each models/<name>/ (and its held-out set) is then replaced whole: a re-run
 * regenerates version 1 rather than adding version 2, and a failed run leaves models/ untouched.
 */
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { setAlias } from '../lib/registry/aliases.js';
import { createVersion } from '../lib/registry/createVersion.js';
import type { Manifest } from '../lib/registry/manifest.js';
import { inferSignature } from '../lib/ops/pushFolder.js';
import { configureBackend, initBackend } from '../lib/runtime/backend.js';
import { FolderStore } from '../lib/store/folder.js';
import { digits } from './train/digits.js';
import { installFastCpuKernels } from './train/fastCpuKernels.js';
import { housing } from './train/housing.js';
import { iris } from './train/iris.js';
import { WEIGHTS_FILE } from '../lib/runtime/modelFiles.js';
import { spam } from './train/spam.js';
import type { Trainer } from './train/types.js';

const TRAINERS: Trainer[] = [iris, spam, digits, housing];
const MAX_WEIGHT_BYTES = 1_000_000;
/** Held-out sets are committed with the models: each must stay small. */
const MAX_DATASET_BYTES = 8_000_000;
const ALIAS = 'production';
const defaultModelsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'models');

function selectTrainers(only: string | undefined): Trainer[] {
  if (!only) return TRAINERS;
  const names = only
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !TRAINERS.some((t) => t.name === n));
  if (unknown.length > 0) throw new Error(`unknown model ${unknown.join(', ')}: choose from ${TRAINERS.map((t) => t.name).join(', ')}`);
  return TRAINERS.filter((t) => names.includes(t.name));
}

interface Outcome {
  manifest: Manifest;
  seconds: number;
  weightBytes: number;
  /** The held-out set's key in the store, e.g. _datasets/iris-test.csv. */
  heldOut: string;
  heldOutBytes: number;
}

async function trainInto(store: FolderStore, trainer: Trainer, seed: number): Promise<Outcome> {
  const started = performance.now();
  const trained = await trainer.train(seed);
  const seconds = (performance.now() - started) / 1000;
  const weightBytes = trained.files.get(WEIGHTS_FILE)?.byteLength ?? 0;
  if (weightBytes > MAX_WEIGHT_BYTES) throw new Error(`${trainer.name}: ${weightBytes} bytes of weights, over the ${MAX_WEIGHT_BYTES} limit for committed models`);
  const { heldOut } = trained;
  const heldOutBytes = Buffer.byteLength(heldOut.content);
  if (heldOutBytes > MAX_DATASET_BYTES) throw new Error(`${trainer.name}: ${heldOutBytes} bytes of held-out data, over the ${MAX_DATASET_BYTES} limit for committed data sets`);
  const manifest = await createVersion(store, trained.name, trained.files, trained.fields, { inferSignature });
  await setAlias(store, trained.name, ALIAS, manifest.version);
  await store.put(heldOut.dataset, heldOut.content, { contentType: heldOut.dataset.endsWith('.csv') ? 'text/csv' : 'application/x-ndjson' });
  return { manifest, seconds, weightBytes, heldOut: heldOut.dataset, heldOutBytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, seed: { type: 'string', default: '42' }, out: { type: 'string' } } });
  const modelsDir = values.out ? path.resolve(values.out) : defaultModelsDir;
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  const trainers = selectTrainers(values.only);

  // Conv layers cannot be trained on wasm (no Conv2DBackpropFilter kernel), and one backend for
  // every model keeps runs comparable: always cpu here, whatever the environment says. (The backend
  // reads its options, not TFJS_BACKEND: lib/services.ts passes the configuration's choice.)
  configureBackend({ backend: 'cpu' });
  const backend = await initBackend();
  if (backend !== 'cpu') throw new Error(`training needs the cpu backend, got ${backend}`);
  installFastCpuKernels();

  const staging = await mkdtemp(path.join(tmpdir(), 'models-train-'));
  try {
    const store = new FolderStore(staging);
    const outcomes: Outcome[] = [];
    for (const trainer of trainers) {
      console.log(`training ${trainer.name} (${trainer.dataset}) ...`);
      const outcome = await trainInto(store, trainer, seed);
      console.log(
        `  ${outcome.seconds.toFixed(1)} s, ${outcome.weightBytes} bytes of weights, test ${JSON.stringify(outcome.manifest.metrics)} on ${outcome.heldOut} (${outcome.heldOutBytes} bytes)`,
      );
      outcomes.push(outcome);
    }
    // Only now, with every model built, replace the committed copies.
    for (const { manifest, heldOut } of outcomes) {
      const target = path.join(modelsDir, manifest.name);
      await rm(target, { recursive: true, force: true });
      await cp(path.join(staging, manifest.name), target, { recursive: true });
      const dataset = path.join(modelsDir, ...heldOut.split('/'));
      await mkdir(path.dirname(dataset), { recursive: true });
      await cp(path.join(staging, ...heldOut.split('/')), dataset);
    }
    console.table(
      Object.fromEntries(
        outcomes.map(({ manifest, seconds, weightBytes, heldOutBytes }) => [
          manifest.name,
          { version: manifest.version, seconds: Number(seconds.toFixed(1)), weightBytes, heldOutBytes, ...manifest.metrics },
        ]),
      ),
    );
    console.log(`wrote ${outcomes.map((o) => o.manifest.name).join(', ')} to ${modelsDir} (alias ${ALIAS} -> 1); ${tf.memory().numTensors} tensors still held`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
