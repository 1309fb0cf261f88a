/**
 * A trained tfjs-layers model as the registry's files, without touching the disk: model.json
 * (format layers-model, one shard) and weights.bin, exactly what model.save('file://...') and
 * tensorflowjs_converter write.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { version_layers } from '@tensorflow/tfjs-layers';
import type { ModelFiles } from '../registry/artifacts.js';

export const WEIGHTS_FILE = 'weights.bin';

export async function modelFiles(model: LayersModel): Promise<ModelFiles> {
  const files: ModelFiles = new Map();
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      if (!artifacts.weightSpecs || !artifacts.weightData) throw new Error(`model ${model.name} saved no weights`);
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
      };
      files.set('model.json', new TextEncoder().encode(JSON.stringify(modelJson)));
      // weightData is one ArrayBuffer or, for large models, several: join them into the one shard.
      files.set(WEIGHTS_FILE, new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData)));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return files;
}
