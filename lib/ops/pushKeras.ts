/**
 * A Keras file (`.keras` or legacy `.h5`) -> a new immutable version, through the same
 * path as a TF.js folder (pushFolder.ts's pushModelFiles): the config becomes a TF.js layers topology (keras/topology.ts),
 * TF.js builds the model from it (so a layer it cannot run is refused before anything is written),
 * the file's weights are matched to the built layers (keras/weights.ts) and set, and the model is
 * saved as model.json plus one weight shard, exactly as tensorflowjs_converter would write it.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { BadRequestError } from '../errors.js';
import { readKerasFile, type KerasFile } from '../keras/archive.js';
import { layerClasses, tfjsTopology } from '../keras/topology.js';
import { matchWeights, type LayerSlots } from '../keras/weights.js';
import type { ModelFiles } from '../registry/artifacts.js';
import type { Manifest, ManifestFields } from '../registry/manifest.js';
import { validateName } from '../registry/names.js';
import type { ObjectStore } from '../store/index.js';
import { backendName, initBackend } from '../runtime/backend.js';
import { disposeModel } from '../runtime/tfModel.js';
import { inferSignature, pushModelFiles, type PushOptions } from './pushFolder.js';
import { naturalRow } from '../registry/manifest.js';

const SHARD = 'group1-shard1of1.bin';

type Layer = LayersModel['layers'][number];

/** TF.js's messages may run over several lines (a list of reasons): a refusal is one line. */
const oneLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');

const innerLayers = (layer: Layer) => (layer as unknown as { layers?: Layer[] }).layers;

/**
 * Layers that own weights, inner layers of nested models included, in the model's order, each with
 * the path Keras 3 gives its weight group: `layers/<class>[_<rank>]`, the rank counted among the
 * layers of that class in the same (possibly nested) model, nested models adding their own
 * `layers/...` (a nested Sequential's first Dense is `layers/sequential/layers/dense`).
 */
function weightedLayers(layers: Layer[], prefix = ''): { layer: Layer; path: string }[] {
  const seen = new Map<string, number>();
  return layers.flatMap((layer) => {
    const base = snakeCase(layer.getClassName());
    const rank = seen.get(base) ?? 0;
    seen.set(base, rank + 1);
    const path = `${prefix}layers/${rank === 0 ? base : `${base}_${rank}`}`;
    const inner = innerLayers(layer);
    if (Array.isArray(inner)) return weightedLayers(inner, `${path}/`);
    return layer.weights.length > 0 ? [{ layer, path }] : [];
  });
}

/** Keras's to_snake_case: `BatchNormalization` -> `batch_normalization`, `Conv2D` -> `conv2d`. */
function snakeCase(name: string): string {
  return name
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** The name or path the file's writer would have given this layer's weight group (weights.ts). */
function groupNames(file: KerasFile, layer: Layer, path: string): string[] {
  if (file.naming === 'layer') return [layer.name];
  if (file.naming === 'tracking') return [];
  return [path];
}

async function buildModel(file: KerasFile, what: string): Promise<LayersModel> {
  const layers = await import('@tensorflow/tfjs-layers');
  const known = new Set(Object.keys(tf.serialization.SerializationMap.getMap().classNameMap));
  const topology = tfjsTopology(file.config, file.kerasVersion, known);
  const unknown = [...new Set(layerClasses(file.config).filter((name) => !known.has(name)))];
  if (unknown.length > 0) {
    const supported = [...known].filter((name) => /^[A-Z]/.test(name) && !/Initializer|Regularizer|Constraint|Optimizer/.test(name)).sort();
    throw new BadRequestError(`${what} uses layer(s) TF.js cannot run: ${unknown.join(', ')}. Layers TF.js runs: ${supported.join(', ')}`);
  }
  try {
    return await layers.models.modelFromJSON({ modelTopology: topology } as never);
  } catch (error) {
    throw new BadRequestError(`${what}: TF.js cannot build the model from its config: ${oneLine(error)}`);
  }
}

/** The model.json and weight shard of the file, as a TF.js folder would hold them. */
async function kerasModelFiles(bytes: Uint8Array, what: string): Promise<{ files: ModelFiles; file: KerasFile }> {
  const file = await readKerasFile(bytes, what);
  await initBackend();
  const model = await buildModel(file, what);
  try {
    const owners = weightedLayers(model.layers);
    const slots: LayerSlots[] = owners.map(({ layer, path }) => ({
      name: layer.name,
      className: layer.getClassName(),
      shapes: layer.weights.map((w) => w.shape as number[]),
      names: groupNames(file, layer, path),
    }));
    const arrays = matchWeights(slots, file.groups);
    let saved: tf.io.ModelArtifacts | undefined;
    try {
      for (const [i, { layer }] of owners.entries()) {
        const values = arrays[i].map((a) => tf.tensor(a.data, a.shape, 'float32'));
        try {
          layer.setWeights(values);
        } finally {
          tf.dispose(values);
        }
      }
      await model.save(
        tf.io.withSaveHandler(async (artifacts) => {
          saved = artifacts;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
    } catch (error) {
      // TF.js refusing what the file holds (e.g. two weights of one name in a nested model).
      throw new BadRequestError(`${what}: TF.js cannot take the model's weights: ${oneLine(error)}`);
    }
    if (!saved?.weightData || !saved.weightSpecs) throw new Error('TF.js saved no weights');
    const weightData = tf.io.concatenateArrayBuffers(Array.isArray(saved.weightData) ? saved.weightData : [saved.weightData]);
    const modelJson = {
      format: 'layers-model',
      generatedBy: `keras v${file.kerasVersion}`,
      convertedBy: 'tfjs-lambda-serving keras import',
      modelTopology: saved.modelTopology,
      weightsManifest: [{ paths: [SHARD], weights: saved.weightSpecs }],
    };
    const files: ModelFiles = new Map([
      ['model.json', new TextEncoder().encode(JSON.stringify(modelJson))],
      [SHARD, new Uint8Array(weightData)],
    ]);
    return { files, file };
  } finally {
    disposeModel(model);
  }
}

/** Imports the file as a new version of `name`; the lineage records the source format, Keras version and sha256. */
export async function pushKerasFile(
  store: ObjectStore,
  bytes: Uint8Array,
  source: string,
  name: string,
  fields: Partial<ManifestFields> = {},
  options: PushOptions = {},
): Promise<Manifest> {
  validateName(name);
  const { files, file } = await kerasModelFiles(bytes, source);
  // Loading the saved model as the loader will: what TF.js refuses here (two weights of one name
  // in a nested model) is the file's problem, answered now rather than at every cold start.
  const signature =
    fields.signature ??
    (await inferSignature(files, naturalRow(fields)).catch((error: unknown) => {
      if (error instanceof BadRequestError) throw new BadRequestError(`${source}: ${error.message}`, { cause: error });
      throw error;
    }));
  const lineage = {
    parent: null,
    source,
    sourceFormat: file.container === 'keras' ? ('keras' as const) : ('h5' as const),
    kerasVersion: file.kerasVersion,
    sourceSha256: createHash('sha256').update(bytes).digest('hex'),
  };
  // The signature's example ran here (unless the fields gave the signature): its backend is the version's.
  const trialBackend = fields.signature === undefined ? backendName() : undefined;
  return pushModelFiles(store, files, source, name, { ...fields, signature, lineage: fields.lineage ?? lineage }, { ...options, trialBackend });
}
