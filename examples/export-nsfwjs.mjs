#!/usr/bin/env node
/**
 * nsfwjs ships its models inside JavaScript modules (the model.json and base64 weight shards of
 * tensorflowjs_converter, wrapped for bundlers). This writes them out as the TF.js model folders
 * `modelctl push` takes: <out>/MobileNetV2 (layers), <out>/MobileNetV2Mid (graph),
 * <out>/InceptionV3 (layers), each model.json plus its shards, named as its weights manifest says.
 *
 *   node examples/export-nsfwjs.mjs /tmp/nsfwjs [MobileNetV2 MobileNetV2Mid ...]
 */
import { realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MODULES = {
  MobileNetV2: ['nsfwjs/models/mobilenet_v2', 'MobileNetV2Model'],
  MobileNetV2Mid: ['nsfwjs/models/mobilenet_v2_mid', 'MobileNetV2MidModel'],
  InceptionV3: ['nsfwjs/models/inception_v3', 'InceptionV3Model'],
};

/** Writes one model's folder; returns its path. */
export async function exportNsfwModel(name, outDir) {
  const [specifier, exported] = MODULES[name] ?? [];
  if (!specifier) throw new Error(`unknown nsfwjs model ${name}: choose from ${Object.keys(MODULES).join(', ')}`);
  const model = (await import(specifier))[exported];
  const dir = path.join(outDir, name);
  await mkdir(dir, { recursive: true });
  const modelJson = (await model.modelJson()).default;
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  const paths = modelJson.weightsManifest.flatMap((group) => group.paths);
  for (const [i, shard] of paths.entries()) {
    await writeFile(path.join(dir, shard), Buffer.from((await model.weightBundles[i]()).default, 'base64'));
  }
  return dir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  const [outDir = 'nsfwjs-models', ...names] = process.argv.slice(2);
  for (const name of names.length > 0 ? names : Object.keys(MODULES)) console.log(await exportNsfwModel(name, outDir));
}
