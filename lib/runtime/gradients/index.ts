/**
 * Gradients we define in place of tfjs-core's, or where it has none (see each file for why). Registered before each
 * backward pass, not once: tfjs-core's own are registered by whatever imports
 * '@tensorflow/tfjs-core/dist/register_all_gradients' (tfjs-layers does, when the first layers
 * model is built; so does any copy of @tensorflow/tfjs), into a registry every copy shares, and
 * the last registration wins.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedBatchNormGradConfig, withBatchNormDefaults } from './batchNorm.js';
import { einsumGradConfig } from './einsum.js';

export function useOurGradients(): void {
  withBatchNormDefaults();
  if (tf.getGradient(fusedBatchNormGradConfig.kernelName) !== fusedBatchNormGradConfig) tf.registerGradient(fusedBatchNormGradConfig);
  // tfjs-core has none: a later one that defines its own keeps it.
  if (tf.getGradient(einsumGradConfig.kernelName) === undefined) tf.registerGradient(einsumGradConfig);
}
