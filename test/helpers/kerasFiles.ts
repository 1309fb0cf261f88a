/**
 * Keras-3-layout files made here, for layouts no public fixture has (nested models, a
 * Bidirectional layer): config.json as Keras 3 writes it and model.weights.h5 written with h5wasm,
 * each weight at the path Keras 3's saver gives it.
 */
import { strToU8, zipSync } from 'fflate';

export type WeightTree = { [name: string]: WeightTree | { shape: number[]; data: number[] } };

const isArray = (value: WeightTree[string]): value is { shape: number[]; data: number[] } => Array.isArray((value as { data?: unknown }).data);

async function h5Bytes(tree: WeightTree): Promise<Uint8Array> {
  const { default: h5wasm } = await import('h5wasm');
  const { FS } = await h5wasm.ready;
  const name = `/made-${process.pid}-${Math.random().toString(36).slice(2)}.h5`;
  const file = new h5wasm.File(name, 'w');
  type Group = { create_group(name: string): void; get(name: string): unknown; create_dataset(args: { name: string; data: Float32Array; shape: number[]; dtype: string }): void };
  const write = (group: Group, branch: WeightTree) => {
    for (const [key, value] of Object.entries(branch)) {
      if (isArray(value)) group.create_dataset({ name: key, data: Float32Array.from(value.data), shape: value.shape, dtype: '<f4' });
      else {
        group.create_group(key);
        write(group.get(key) as Group, value);
      }
    }
  };
  write(file as unknown as Group, tree);
  file.close();
  const bytes = new Uint8Array(FS.readFile(name) as Uint8Array);
  FS.unlink(name);
  return bytes;
}

export async function kerasFile(config: unknown, weights: WeightTree, kerasVersion = '3.3.3'): Promise<Uint8Array> {
  return zipSync({
    'metadata.json': strToU8(JSON.stringify({ keras_version: kerasVersion })),
    'config.json': strToU8(JSON.stringify(config)),
    'model.weights.h5': await h5Bytes(weights),
  });
}

/** An array of `shape` filled with `value`. */
export const filled = (shape: number[], value: number) => ({ shape, data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => value) });
/** n x n, `k` on the diagonal. */
export const diagonal = (n: number, k: number) => ({ shape: [n, n], data: Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? k : 0)) });

export const inputLayer = (name: string, batchShape: (number | null)[]) => ({
  module: 'keras.layers',
  class_name: 'InputLayer',
  config: { batch_shape: batchShape, dtype: 'float32', sparse: false, name },
  registered_name: null,
});

export const denseLayer = (name: string, units: number) => ({
  module: 'keras.layers',
  class_name: 'Dense',
  config: {
    name,
    trainable: true,
    dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null },
    units,
    activation: 'linear',
    use_bias: true,
    kernel_initializer: { module: 'keras.initializers', class_name: 'GlorotUniform', config: { seed: null }, registered_name: null },
    bias_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null },
    kernel_regularizer: null,
    bias_regularizer: null,
    kernel_constraint: null,
    bias_constraint: null,
  },
  registered_name: null,
  build_config: { input_shape: [null, units] },
});

export const lstmLayer = (name: string, units: number, goBackwards: boolean) => ({
  module: 'keras.layers',
  class_name: 'LSTM',
  config: {
    name,
    trainable: true,
    dtype: 'float32',
    return_sequences: false,
    return_state: false,
    go_backwards: goBackwards,
    stateful: false,
    unroll: false,
    units,
    activation: 'tanh',
    recurrent_activation: 'sigmoid',
    use_bias: true,
    kernel_initializer: { module: 'keras.initializers', class_name: 'GlorotUniform', config: { seed: null }, registered_name: null },
    recurrent_initializer: { module: 'keras.initializers', class_name: 'OrthogonalInitializer', config: { gain: 1, seed: null }, registered_name: null },
    bias_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null },
    unit_forget_bias: true,
    kernel_regularizer: null,
    recurrent_regularizer: null,
    bias_regularizer: null,
    activity_regularizer: null,
    kernel_constraint: null,
    recurrent_constraint: null,
    bias_constraint: null,
    dropout: 0,
    recurrent_dropout: 0,
    seed: null,
  },
  registered_name: null,
});
