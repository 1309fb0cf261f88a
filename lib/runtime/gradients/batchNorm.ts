/**
 * The gradient of FusedBatchNorm, as tfjs-core 4.22 defines it, with two costs removed:
 *
 * - d/dx tiled 1 / sqrt(variance + epsilon) to the full activation shape before multiplying
 *   (a Tile as big as the activation, per batch-norm layer); broadcasting gives the same products.
 * - x - mean and dy * scale (each as big as the activation) were computed up front for every
 *   backward pass, though only the gradients with respect to mean, variance and scale use them;
 *   they are computed in those now.
 *
 * Input gradients through a MobileNetV2 (explanations) spent most of their time in those Tiles:
 * 815 of 1366 ms for two 224x224 rows on wasm. Values are unchanged: the same operations on the
 * same operands in the same order.
 *
 * A batch normalization without a scale or an offset (Keras's `scale: false`, `center: false`, as
 * InceptionV3 has 94 times) passes the kernel no tensor for it, and TF.js's tape then fails on the
 * missing input (it clones every input a gradient saves, and reads every input's id): no gradient
 * goes through such a model. While a gradient is being recorded, the kernel is given ones and
 * zeros in their place (withBatchNormDefaults): the same values, and inputs the tape can hold.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, FusedBatchNorm, type GradConfig, type NamedAttrMap } from '@tensorflow/tfjs-core';

export const fusedBatchNormGradConfig: GradConfig = {
  kernelName: FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
    const gradient = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved;
    const scaleValue = scale ?? tf.scalar(1);
    const reductionAxes = backend_util.getReductionAxes(mean.shape, x.shape);
    const oneOverSqrtVariance = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    // Summed over the axes the statistics were broadcast along (tfjs-core sums only for rank-1
    // statistics, and so fails for [1, 1, 1, C] ones).
    const reduce = (t: tf.Tensor) => tf.reshape(reductionAxes.length > 0 ? tf.sum(t, reductionAxes) : t, mean.shape);
    return {
      x: () => tf.reshape(tf.mul(tf.mul(gradient, oneOverSqrtVariance), scaleValue), x.shape),
      mean: () => reduce(tf.mul(tf.mul(oneOverSqrtVariance, tf.scalar(-1)), tf.mul(gradient, scaleValue))),
      variance: () => {
        const minusHalfRCube = tf.mul(tf.mul(tf.mul(oneOverSqrtVariance, oneOverSqrtVariance), oneOverSqrtVariance), tf.scalar(-0.5));
        return reduce(tf.mul(tf.mul(minusHalfRCube, tf.sub(x, mean)), tf.mul(gradient, scaleValue)));
      },
      scale: () => reduce(tf.mul(gradient, tf.mul(tf.sub(x, mean), oneOverSqrtVariance))),
      offset: () => reduce(gradient),
    };
  },
};

type RunKernel = (name: string, inputs: tf.NamedTensorMap, attrs?: NamedAttrMap) => tf.Tensor | tf.Tensor[];

/** Installs, once, the ones and zeros for a missing scale and offset of a FusedBatchNorm recorded for a gradient. */
export function withBatchNormDefaults(): void {
  const engine = tf.engine() as unknown as { runKernel: RunKernel & { batchNormDefaults?: true }; isTapeOn(): boolean };
  if (engine.runKernel.batchNormDefaults) return;
  const run = engine.runKernel.bind(engine);
  const wrapped: RunKernel & { batchNormDefaults?: true } = (name, inputs, attrs) => {
    if (name !== FusedBatchNorm || !engine.isTapeOn() || (inputs.scale != null && inputs.offset != null)) return run(name, inputs, attrs);
    const { mean } = inputs;
    return run(name, { ...inputs, scale: inputs.scale ?? tf.onesLike(mean), offset: inputs.offset ?? tf.zerosLike(mean) }, attrs);
  };
  wrapped.batchNormDefaults = true;
  engine.runKernel = wrapped;
}
