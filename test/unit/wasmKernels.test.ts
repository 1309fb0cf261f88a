/**
 * The kernels lib/runtime/wasmKernels adds to the wasm backend, each against the cpu backend's own
 * kernel on random shapes and attributes (seeded tables), run in one process with both backends
 * registered: same inputs, switch backend, compare. Tolerance: 1e-4 relative to the largest
 * magnitude in the cpu result (float32 sums in another order differ in the last bits).
 *
 * tfjs cpu's depthwise gradient kernels ignore `dilations` (they only use it to size the output):
 * for those cases the cpu reference is its own kernel on the equivalent undilated filter, zeros
 * between the taps, which is what a dilated filter means. An adjoint identity against cpu's
 * forward kernel checks the same cases without any gradient kernel as reference:
 * <forward(x, w), dy> = <w, dW(x, dy)> = <x, dX(dy, w)>.
 *
 * A number as padding is only drawn with a square filter and equal strides: for anything else
 * tfjs-core's computeConv2DInfo sizes the output with the filter height and stride height on both
 * axes, and the forward kernels (wasm's writes out of bounds) disagree with it.
 */
import * as tf from '@tensorflow/tfjs-core';
// The cpu backend is registered on demand in the bundles (lib/runtime/backend.ts); compared against here.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js'; // tf.grad (tfjs-layers imports these for fit)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../lib/runtime/backend.js';
import { registerWasmGapKernels, WASM_GAP_KERNELS } from '../../lib/runtime/wasmKernels/index.js';
import { uniform } from '../../lib/random.js';

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

// ---------------------------------------------------------------- seeded random cases

const mulberry32 = uniform;

const between = (random: () => number, lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)];

function randomPad(random: () => number, channelsFirst: boolean, square: boolean): { pad: Pad; rounding: Rounding } {
  const kind = pick(random, square ? (['valid', 'same', 'number', 'explicit'] as const) : (['valid', 'same', 'explicit'] as const));
  if (kind === 'valid' || kind === 'same') return { pad: kind, rounding: undefined };
  if (kind === 'number') return { pad: between(random, 0, 2), rounding: pick(random, [undefined, 'floor', 'round', 'ceil'] as const) };
  const rows: [number, number] = [between(random, 0, 2), between(random, 0, 2)];
  const cols: [number, number] = [between(random, 0, 2), between(random, 0, 2)];
  return { pad: channelsFirst ? [[0, 0], [0, 0], rows, cols] : [[0, 0], rows, cols, [0, 0]], rounding: undefined };
}

interface ConvCase {
  name: string;
  xShape: Shape4;
  filterShape: Shape4;
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
  rounding: Rounding;
  dataFormat: 'NHWC' | 'NCHW';
  info: tf.backend_util.Conv2DInfo;
}

function describeCase(c: Omit<ConvCase, 'name' | 'info'>): string {
  const spatial = typeof c.pad === 'object' ? (c.dataFormat === 'NCHW' ? c.pad.slice(2) : c.pad.slice(1, 3)) : [];
  const pad = typeof c.pad === 'object' ? `pad ${spatial.map((p) => p.join(',')).join(' ')}` : String(c.pad);
  return `${c.xShape.join('x')} ${c.dataFormat} w${c.filterShape.join('x')} s${c.strides.join(',')} d${c.dilations.join(',')} ${pad}${c.rounding ? ` ${c.rounding}` : ''}`;
}

/** Random conv cases whose output is not empty; `depthwise` draws dilations and channel multipliers. */
function convCases(seed: number, count: number, depthwise: boolean, fixed: Omit<ConvCase, 'name' | 'info'>[]): ConvCase[] {
  const random = mulberry32(seed);
  const cases: ConvCase[] = [];
  const add = (c: Omit<ConvCase, 'name' | 'info'>) => {
    const channelsFirst = c.dataFormat === 'NCHW';
    try {
      const info = tf.backend_util.computeConv2DInfo(
        c.xShape,
        c.filterShape,
        c.strides,
        c.dilations,
        c.pad,
        c.rounding,
        depthwise,
        channelsFirst ? 'channelsFirst' : 'channelsLast',
      );
      if (info.outHeight > 0 && info.outWidth > 0) cases.push({ ...c, name: describeCase(c), info });
    } catch {
      // shapes that the forward op itself rejects
    }
  };
  fixed.forEach(add);
  while (cases.length < count) {
    const channelsFirst = !depthwise && random() < 0.2;
    const strideHeight = between(random, 1, 3);
    const strides: [number, number] = [strideHeight, random() < 0.5 ? strideHeight : between(random, 1, 3)];
    // Forward depthwiseConv2d takes dilations only with stride 1 (and the converse).
    const dilations: [number, number] = depthwise && strides[0] === 1 && strides[1] === 1 ? [between(random, 1, 3), between(random, 1, 3)] : [1, 1];
    const batch = between(random, 1, 3);
    const height = between(random, 3, 12);
    const width = between(random, 3, 12);
    const inChannels = between(random, 1, 4);
    const filterHeight = between(random, 1, 4);
    const filterShape: Shape4 = [filterHeight, random() < 0.5 ? filterHeight : between(random, 1, 4), inChannels, between(random, 1, depthwise ? 3 : 5)];
    const xShape: Shape4 = channelsFirst ? [batch, inChannels, height, width] : [batch, height, width, inChannels];
    const square = filterShape[0] === filterShape[1] && strides[0] === strides[1] && dilations[0] === dilations[1];
    add({ xShape, filterShape, strides, dilations, ...randomPad(random, channelsFirst, square), dataFormat: channelsFirst ? 'NCHW' : 'NHWC' });
  }
  return cases;
}

const nhwc = (xShape: Shape4, filterShape: Shape4, strides: [number, number], pad: Pad, dilations: [number, number] = [1, 1], rounding?: Rounding) => ({
  xShape,
  filterShape,
  strides,
  dilations,
  pad,
  rounding,
  dataFormat: 'NHWC' as const,
});

const conv2DCases = convCases(20_241, 36, false, [
  nhwc([2, 28, 28, 1], [3, 3, 1, 8], [1, 1], 'valid'), // digits conv1
  nhwc([2, 13, 13, 8], [3, 3, 8, 16], [1, 1], 'valid'), // digits conv2
  nhwc([1, 5, 5, 2], [5, 5, 2, 3], [1, 1], 'valid'), // filter as large as the input
  nhwc([2, 7, 6, 3], [1, 1, 3, 4], [3, 2], 'same'), // 1x1 filter, stride larger than it
  nhwc(
    [1, 9, 9, 2],
    [3, 3, 2, 2],
    [2, 2],
    [
      [0, 0],
      [3, 0],
      [0, 4],
      [0, 0],
    ],
  ), // asymmetric explicit padding
  nhwc([1, 8, 8, 1], [3, 3, 1, 2], [2, 2], 1, [1, 1], 'ceil'),
  { ...nhwc([2, 3, 8, 7], [3, 2, 3, 4], [2, 1], 'same'), dataFormat: 'NCHW' as const },
  nhwc(
    [1, 1, 4, 2],
    [1, 1, 2, 3],
    [3, 1],
    [
      [0, 0],
      [5, 0],
      [0, 0],
      [0, 0],
    ],
  ), // every row read is padding: dW = 0
]);

const depthwiseCases = convCases(7_919, 36, true, [
  nhwc([2, 14, 14, 4], [3, 3, 4, 2], [1, 1], 'same'),
  nhwc([2, 13, 13, 3], [3, 3, 3, 1], [2, 2], 'valid'),
  nhwc([1, 9, 10, 2], [3, 2, 2, 3], [1, 1], 'same', [2, 3]), // dilated
  nhwc(
    [1, 11, 11, 2],
    [3, 3, 2, 2],
    [1, 1],
    [
      [0, 0],
      [4, 0],
      [1, 3],
      [0, 0],
    ],
    [2, 2],
  ), // dilated, explicit
  nhwc([1, 4, 4, 3], [4, 4, 3, 2], [1, 1], 'valid'),
  nhwc([2, 9, 9, 2], [2, 2, 2, 2], [3, 3], 2, [1, 1], 'round'),
  nhwc(
    [1, 1, 4, 2],
    [1, 1, 2, 2],
    [3, 1],
    [
      [0, 0],
      [5, 0],
      [0, 0],
      [0, 0],
    ],
  ), // every row read is padding
]);

/** it.each rows whose title is the case's name in full (vitest shortens a `$name` to 40 characters). */
const table = <T extends { name: string }>(cases: T[]): [string, T][] => cases.map((c) => [c.name, c]);

// ---------------------------------------------------------------- running on a backend

async function on(backend: 'wasm' | 'cpu'): Promise<void> {
  await tf.setBackend(backend);
  expect(tf.getBackend()).toBe(backend);
}

/** Values of `make()` computed on `backend`, every tensor of it disposed. */
async function valuesOn(backend: 'wasm' | 'cpu', make: () => tf.Tensor): Promise<{ values: Float32Array; shape: number[]; dtype: string }> {
  await on(backend);
  const t = tf.tidy(make);
  const result = { values: Float32Array.from(t.dataSync() as ArrayLike<number>), shape: t.shape, dtype: t.dtype };
  t.dispose();
  return result;
}

function expectClose(actual: Float32Array, expected: Float32Array, relative = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  expect(worst).toBeLessThanOrEqual(relative * Math.max(scale, 1e-6));
}

/** Seeded values in [-1, 1); the same on every backend (tf.randomUniform draws in JS). */
const values = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
}

/** Runs `make` on wasm and checks that it leaves exactly its output behind, in the engine and in wasm memory. */
async function expectNoLeak(make: () => tf.Tensor): Promise<void> {
  await on('wasm');
  const inputs = tf.memory().numTensors;
  const buffers = tf.engine().backend.numDataIds();
  const out = make();
  expect(tf.memory().numTensors).toBe(inputs + 1);
  expect(tf.engine().backend.numDataIds()).toBe(buffers + 1);
  out.dispose();
  expect(tf.memory().numTensors).toBe(inputs);
  expect(tf.engine().backend.numDataIds()).toBe(buffers);
}

// A dilated filter is the undilated filter with (dilation - 1) zeros between its taps.
function spreadFilter(filter: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  if (dh === 1 && dw === 1) return filter;
  const [fh, fw, c, m] = filter.shape;
  const cells = tf.pad(tf.reshape(filter, [fh, 1, fw, 1, c, m]), [
    [0, 0],
    [0, dh - 1],
    [0, 0],
    [0, dw - 1],
    [0, 0],
    [0, 0],
  ]);
  return tf.slice(tf.reshape(cells, [fh * dh, fw * dw, c, m]) as tf.Tensor4D, [0, 0, 0, 0], [(fh - 1) * dh + 1, (fw - 1) * dw + 1, c, m]);
}

async function valueOn(backend: 'wasm' | 'cpu', make: () => tf.Tensor): Promise<number> {
  return (await valuesOn(backend, make)).values[0];
}

/** <depthwiseConv2d(x, w), dy> with the case's seeded x, dy and w. */
function forwardDotDy(backend: 'wasm' | 'cpu', c: ConvCase): Promise<number> {
  return valueOn(backend, () => {
    const attrs = { strides: c.strides, dilations: c.dilations, pad: c.pad, dimRoundingMode: c.rounding, dataFormat: 'NHWC' };
    const forward = runKernel('DepthwiseConv2dNative', { x: values(c.xShape, 1), filter: values(c.filterShape, 3) }, attrs);
    return tf.sum(tf.mul(forward, values(c.info.outShape, 2)));
  });
}

beforeAll(async () => {
  process.env.TFJS_BACKEND = 'wasm';
  expect(await initBackend()).toBe('wasm');
});

afterAll(async () => {
  await on('wasm');
});

// ---------------------------------------------------------------- Conv2DBackpropFilter

describe('Conv2DBackpropFilter on wasm', () => {
  it.each(table(conv2DCases))('equals cpu: %s', async (_name, c) => {
    const make = () =>
      runKernel(
        'Conv2DBackpropFilter',
        { x: values(c.xShape, 1), dy: values(c.info.outShape, 2) },
        {
          strides: c.strides,
          pad: c.pad,
          dataFormat: c.dataFormat,
          dimRoundingMode: c.rounding,
          filterShape: c.filterShape,
        },
      );
    const wasm = await valuesOn('wasm', make);
    const cpu = await valuesOn('cpu', make);
    expect(wasm.shape).toEqual(c.filterShape);
    expectClose(wasm.values, cpu.values);
  });

  it.each(table(conv2DCases.slice(0, 8)))('leaves no tensor behind: %s', async (_name, c) => {
    await on('wasm');
    const [x, dy] = [values(c.xShape, 1), values(c.info.outShape, 2)];
    await expectNoLeak(() =>
      runKernel('Conv2DBackpropFilter', { x, dy }, { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat, dimRoundingMode: c.rounding, filterShape: c.filterShape }),
    );
    tf.dispose([x, dy]);
  });

  it('gives tf.grad of conv2d the same filter gradient as cpu, inside a training-like tidy', async () => {
    const grad = () =>
      tf.tidy(() => {
        const x = values([3, 10, 10, 2], 3) as tf.Tensor4D;
        const filter = values([3, 3, 2, 4], 4) as tf.Tensor4D;
        return tf.grad((f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, f as tf.Tensor4D, 2, 'same'))))(filter);
      });
    expectClose((await valuesOn('wasm', grad)).values, (await valuesOn('cpu', grad)).values);
  });
});

// ---------------------------------------------------------------- depthwise gradients

describe('DepthwiseConv2dNativeBackpropFilter on wasm', () => {
  const attrs = (c: ConvCase) => ({ strides: c.strides, dilations: c.dilations, pad: c.pad, dimRoundingMode: c.rounding, filterShape: c.filterShape });

  it.each(table(depthwiseCases))('equals cpu: %s', async (_name, c) => {
    const wasm = await valuesOn('wasm', () => runKernel('DepthwiseConv2dNativeBackpropFilter', { x: values(c.xShape, 1), dy: values(c.info.outShape, 2) }, attrs(c)));
    // cpu: the gradient for the spread (undilated) filter, read at the taps of the dilated one.
    const [dh, dw] = c.dilations;
    const spreadShape: Shape4 = [(c.filterShape[0] - 1) * dh + 1, (c.filterShape[1] - 1) * dw + 1, c.filterShape[2], c.filterShape[3]];
    const cpu = await valuesOn('cpu', () => {
      const whole = runKernel(
        'DepthwiseConv2dNativeBackpropFilter',
        { x: values(c.xShape, 1), dy: values(c.info.outShape, 2) },
        { ...attrs(c), dilations: [1, 1], filterShape: spreadShape },
      );
      return tf.stridedSlice(whole, [0, 0, 0, 0], spreadShape, [dh, dw, 1, 1]);
    });
    expect(wasm.shape).toEqual(c.filterShape);
    expectClose(wasm.values, cpu.values);
  });

  it.each(table(depthwiseCases))("is the adjoint of cpu's forward kernel: %s", async (_name, c) => {
    const lhs = await forwardDotDy('cpu', c);
    const rhs = await valueOn('wasm', () =>
      tf.sum(tf.mul(values(c.filterShape, 3), runKernel('DepthwiseConv2dNativeBackpropFilter', { x: values(c.xShape, 1), dy: values(c.info.outShape, 2) }, attrs(c)))),
    );
    expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(lhs)));
  });

  it.each(table(depthwiseCases.slice(0, 8)))('leaves no tensor behind: %s', async (_name, c) => {
    await on('wasm');
    const [x, dy] = [values(c.xShape, 1), values(c.info.outShape, 2)];
    await expectNoLeak(() => runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs(c)));
    tf.dispose([x, dy]);
  });
});

describe('DepthwiseConv2dNativeBackpropInput on wasm', () => {
  const attrs = (c: ConvCase) => ({ strides: c.strides, dilations: c.dilations, pad: c.pad, dimRoundingMode: c.rounding, inputShape: c.xShape });

  it.each(table(depthwiseCases))('equals cpu: %s', async (_name, c) => {
    const wasm = await valuesOn('wasm', () => runKernel('DepthwiseConv2dNativeBackpropInput', { dy: values(c.info.outShape, 2), filter: values(c.filterShape, 3) }, attrs(c)));
    // cpu: its kernel on the spread (undilated) filter, the same convolution.
    const cpu = await valuesOn('cpu', () =>
      runKernel(
        'DepthwiseConv2dNativeBackpropInput',
        { dy: values(c.info.outShape, 2), filter: spreadFilter(values(c.filterShape, 3) as tf.Tensor4D, c.dilations) },
        { ...attrs(c), dilations: [1, 1] },
      ),
    );
    expect(wasm.shape).toEqual(c.xShape);
    expectClose(wasm.values, cpu.values);
  });

  it.each(table(depthwiseCases))("is the adjoint of cpu's forward kernel: %s", async (_name, c) => {
    const lhs = await forwardDotDy('cpu', c);
    const rhs = await valueOn('wasm', () =>
      tf.sum(tf.mul(values(c.xShape, 1), runKernel('DepthwiseConv2dNativeBackpropInput', { dy: values(c.info.outShape, 2), filter: values(c.filterShape, 3) }, attrs(c)))),
    );
    expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(lhs)));
  });

  it.each(table(depthwiseCases.slice(0, 8)))('leaves no tensor behind: %s', async (_name, c) => {
    await on('wasm');
    const [dy, filter] = [values(c.info.outShape, 2), values(c.filterShape, 3)];
    await expectNoLeak(() => runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, attrs(c)));
    tf.dispose([dy, filter]);
  });

  it('gives tf.grad of depthwiseConv2d the same gradients as cpu', async () => {
    const grads = () =>
      tf.tidy(() => {
        const x = values([2, 9, 9, 3], 5) as tf.Tensor4D;
        const filter = values([3, 3, 3, 2], 6) as tf.Tensor4D;
        const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))))([x, filter]);
        return tf.concat([tf.reshape(dx, [-1]), tf.reshape(df, [-1])]);
      });
    expectClose((await valuesOn('wasm', grads)).values, (await valuesOn('cpu', grads)).values);
  });
});

// ---------------------------------------------------------------- UnsortedSegmentSum and gather

interface SegmentCase {
  name: string;
  xShape: number[];
  idsShape: number[];
  numSegments: number;
  ids: number[];
  dtype: 'float32' | 'int32';
}

function segmentCases(seed: number, count: number): SegmentCase[] {
  const random = mulberry32(seed);
  const cases: SegmentCase[] = [];
  while (cases.length < count) {
    const idsRank = random() < 0.8 ? 1 : 2;
    const idsShape = Array.from({ length: idsRank }, () => between(random, 1, idsRank === 1 ? 20 : 5));
    const rest = Array.from({ length: between(random, 0, 3) }, () => between(random, 1, 4));
    const numSegments = between(random, 1, 8);
    const size = idsShape.reduce((a, b) => a * b, 1);
    // A fifth of the ids fall outside [0, numSegments): below zero or past the end.
    const ids = Array.from({ length: size }, () => (random() < 0.2 ? pick(random, [-3, -1, numSegments, numSegments + 2]) : between(random, 0, numSegments - 1)));
    const dtype = random() < 0.2 ? 'int32' : 'float32';
    const xShape = [...idsShape, ...rest];
    cases.push({ name: `x ${xShape.join('x')} ${dtype} ids ${idsShape.join('x')} segments ${numSegments}`, xShape, idsShape, numSegments, ids, dtype });
  }
  return cases;
}

const segmentSumCases = segmentCases(31_337, 36);

describe('UnsortedSegmentSum on wasm', () => {
  const input = (c: SegmentCase) => {
    const x = values(c.xShape, 7);
    return c.dtype === 'int32' ? tf.cast(tf.mul(x, 100), 'int32') : x;
  };

  it.each(table(segmentSumCases))('equals cpu, ignoring out-of-range ids: %s', async (_name, c) => {
    const wasm = await valuesOn('wasm', () => runKernel('UnsortedSegmentSum', { x: input(c), segmentIds: tf.tensor(c.ids, c.idsShape, 'int32') }, { numSegments: c.numSegments }));
    // cpu sums over the first axis only: give it the ids flattened (TensorFlow's meaning of rank-k ids).
    const rows = c.ids.length;
    const cpu = await valuesOn('cpu', () =>
      runKernel(
        'UnsortedSegmentSum',
        { x: tf.reshape(input(c), [rows, ...c.xShape.slice(c.idsShape.length)]), segmentIds: tf.tensor1d(c.ids, 'int32') },
        { numSegments: c.numSegments },
      ),
    );
    expect(wasm.shape).toEqual([c.numSegments, ...c.xShape.slice(c.idsShape.length)]);
    expect(wasm.dtype).toBe(c.dtype); // cpu answers float32 for int32 input; wasm keeps the input's dtype as TensorFlow does
    expectClose(wasm.values, cpu.values);
  });

  it('keeps Infinity and NaN of ignored rows out of every segment', async () => {
    const out = await valuesOn('wasm', () =>
      tf.unsortedSegmentSum(
        tf.tensor2d([
          [1, 2],
          [Infinity, NaN],
          [3, 4],
        ]),
        tf.tensor1d([0, 7, 0], 'int32'),
        2,
      ),
    );
    expect(Array.from(out.values)).toEqual([4, 6, 0, 0]);
  });

  it.each(table(segmentSumCases.slice(0, 8)))('leaves no tensor behind: %s', async (_name, c) => {
    await on('wasm');
    const [x, ids] = [input(c), tf.tensor(c.ids, c.idsShape, 'int32')];
    await expectNoLeak(() => runKernel('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: c.numSegments }));
    tf.dispose([x, ids]);
  });
});

interface GatherCase {
  name: string;
  xShape: number[];
  indices: number[];
  indicesShape: number[];
  axis: number;
}

const gatherCases: GatherCase[] = [
  { name: 'embedding rows, with repeats', xShape: [10, 4], indices: [3, 1, 3, 9, 0, 3], indicesShape: [6], axis: 0 },
  { name: 'a batch of token sequences', xShape: [12, 5], indices: [1, 2, 3, 2, 11, 0, 0, 7], indicesShape: [2, 4], axis: 0 },
  { name: 'columns of a matrix', xShape: [3, 6], indices: [5, 0, 5], indicesShape: [3], axis: 1 },
  { name: 'middle axis of a 3-D tensor', xShape: [2, 7, 3], indices: [6, 6, 1, 0], indicesShape: [2, 2], axis: 1 },
  { name: 'last axis of a 3-D tensor', xShape: [2, 3, 5], indices: [4, 4, 4, 2], indicesShape: [4], axis: 2 },
];

describe('tf.grad through tf.gather on wasm', () => {
  it.each(table(gatherCases))('equals cpu: %s', async (_name, c) => {
    const grad = () =>
      tf.tidy(() => {
        const x = values(c.xShape, 11);
        const indices = tf.tensor(c.indices, c.indicesShape, 'int32');
        const f = (t: tf.Tensor) => {
          const gathered = tf.gather(t, indices, c.axis);
          return tf.sum(tf.mul(tf.square(gathered), values(gathered.shape, 12)));
        };
        return tf.grad(f)(x);
      });
    const wasm = await valuesOn('wasm', grad);
    const cpu = await valuesOn('cpu', grad);
    expect(wasm.shape).toEqual(c.xShape);
    expectClose(wasm.values, cpu.values);
  });
});

// ---------------------------------------------------------------- registration

describe('registration', () => {
  it('initBackend registers all five kernels for wasm, and only those wasm lacked', () => {
    for (const config of WASM_GAP_KERNELS) expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc).toBe(config.kernelFunc);
    expect(WASM_GAP_KERNELS.map((k) => k.kernelName).sort()).toEqual(
      ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'Einsum', 'UnsortedSegmentSum'].sort(),
    );
    expect(registerWasmGapKernels()).toEqual([]); // a second call changes nothing
  });

  it('keeps a kernel the backend already has', () => {
    const ours = WASM_GAP_KERNELS.find((k) => k.kernelName === 'UnsortedSegmentSum')!;
    const native = { ...ours, kernelFunc: () => ({ dataId: {}, shape: [], dtype: 'float32' as const }) };
    tf.unregisterKernel('UnsortedSegmentSum', 'wasm');
    try {
      tf.registerKernel(native);
      expect(registerWasmGapKernels()).toEqual([]);
      expect(tf.getKernel('UnsortedSegmentSum', 'wasm')?.kernelFunc).toBe(native.kernelFunc);
    } finally {
      tf.unregisterKernel('UnsortedSegmentSum', 'wasm');
      tf.registerKernel(ours);
    }
  });
});
