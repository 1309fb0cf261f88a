/**
 * Kernels the wasm backend has but that we replace: Conv2DBackpropInput (slow: 10x its forward
 * convolution) and MaxPoolGrad (slow, and it broke ties unlike cpu and TensorFlow, so gradients
 * differed by backend), both what gradients with respect to an image go through (explanations,
 * training of any layer after the first); and Identity, which copied where it can share.
 * wasm's own kernel stays as the fallback for the cases ours does not handle.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2DBackpropInput, Identity, MaxPoolGrad } from '@tensorflow/tfjs-core';
import type { KernelFunc } from '@tensorflow/tfjs-core';
import { conv2DBackpropInputKernel } from './conv2DBackpropInput.js';
import { identityKernel } from './identity.js';
import { maxPoolGradKernel } from './maxPoolGrad.js';

const REPLACEMENTS: { kernelName: string; make: (original: KernelFunc) => KernelFunc }[] = [
  { kernelName: Conv2DBackpropInput, make: (original) => conv2DBackpropInputKernel(original) },
  { kernelName: MaxPoolGrad, make: () => maxPoolGradKernel() },
  { kernelName: Identity, make: (original) => identityKernel(original) },
];

const ours = new WeakSet<KernelFunc>();

/** Replaces the wasm kernels listed above (once; later calls do nothing). Returns the names replaced. */
export function registerWasmKernelReplacements(): string[] {
  const replaced: string[] = [];
  for (const { kernelName, make } of REPLACEMENTS) {
    const current = tf.getKernel(kernelName, 'wasm');
    if (current && ours.has(current.kernelFunc)) continue;
    const original: KernelFunc =
      current?.kernelFunc ??
      (() => {
        throw new Error(`${kernelName} is not available on wasm for these attributes`);
      });
    const kernelFunc = make(original);
    ours.add(kernelFunc);
    if (current) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: current?.setupFunc, disposeFunc: current?.disposeFunc });
    replaced.push(kernelName);
  }
  return replaced;
}
