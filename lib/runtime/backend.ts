/**
 * Chooses the TF.js backend once per process: tfjs-node when it loads, else wasm (SIMD), else cpu.
 * TFJS_BACKEND forces one, and then failing to start it is an error, never a silent fallback.
 * This is the only module that knows which backend is in use.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { useOurGradients } from './gradients/index.js';
import { findWasmDir, WASM_SIMD_FILE } from './wasmFiles.js';
import { registerWasmGapKernels } from './wasmKernels/index.js';
import { registerWasmKernelReplacements } from './wasmKernels/replacements.js';

export type BackendName = 'node' | 'wasm' | 'cpu';

/** tfjs-node registers itself under this name. */
const TF_NAMES: Record<BackendName, string> = { node: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

class BackendError extends Error {}

export interface BackendOptions {
  /** Forced backend (TFJS_BACKEND); unset: the best that starts. */
  backend?: BackendName;
  /** Folder of the wasm binary (TFJS_WASM_DIR); unset: beside the bundle, else node_modules. */
  wasmDir?: string;
}

/**
 * TF.js has one engine per process, so the backend is a process-wide choice: the composition root
 * sets the options from the configuration before the first model is built.
 */
let options: BackendOptions = {};
export function configureBackend(next: BackendOptions): void {
  options = next;
}

async function tryNode(): Promise<boolean> {
  try {
    // Optional dependency: absent from Lambda zips and from machines where it cannot install.
    const moduleName = '@tensorflow/tfjs-node';
    await import(moduleName);
  } catch {
    return false;
  }
  return tf.setBackend(TF_NAMES.node);
}

async function tryWasm(wasmDir?: string): Promise<boolean> {
  const dir = findWasmDir(wasmDir);
  if (!dir) return false;
  setWasmPaths(dir.endsWith('/') ? dir : `${dir}/`);
  // The gradients wasm lacks (conv filters, depthwise, gather): without them it cannot train.
  registerWasmGapKernels();
  // Faster input gradients, and max-pool ties broken as cpu does (explanations, conv training).
  registerWasmKernelReplacements();
  // setBackend resolves false (it does not throw) when the binary cannot be read or compiled.
  const started = await tf.setBackend(TF_NAMES.wasm);
  // Before any tensor (a model's weights) is allocated: the memory budget counts the heap's touched part from them.
  if (started) wasmHeapTouchedBytes();
  return started;
}

async function start(name: BackendName, wasmDir?: string): Promise<boolean> {
  if (name === 'node') return tryNode();
  if (name === 'wasm') return tryWasm(wasmDir);
  // The cpu backend (its ~150 kernels) is imported only when it is the one chosen: off the cold start otherwise.
  await import('@tensorflow/tfjs-backend-cpu');
  return tf.setBackend(TF_NAMES.cpu);
}

async function choose(): Promise<BackendName> {
  const { backend: forced, wasmDir } = options;
  // Every backend: batch norm's input gradient without activation-sized Tiles (gradients/batchNorm.ts).
  useOurGradients();
  if (forced) {
    if (await start(forced, wasmDir)) return forced;
    const hint = forced === 'wasm' ? ` (is ${WASM_SIMD_FILE} in ${wasmDir ?? 'the bundle folder'}?)` : '';
    throw new BackendError(`TFJS_BACKEND=${forced} could not be started${hint}`);
  }
  for (const name of ['node', 'wasm', 'cpu'] as const) {
    if (await start(name, wasmDir)) return name;
  }
  throw new BackendError('no TF.js backend could be started');
}

let chosen: Promise<BackendName> | undefined;

/** Starts the backend on first call; later calls share the same promise. */
export function initBackend(): Promise<BackendName> {
  chosen ??= choose().catch((error: unknown) => {
    chosen = undefined;
    throw error;
  });
  return chosen;
}

/** Starts the backend again after the engine was reset (lib/runtime/recovery.ts). */
export function restartBackend(): Promise<BackendName> {
  chosen = undefined;
  return initBackend();
}

/** Whether a backend has started: before, TF.js's memory figures throw (a process's first request). */
export function backendStarted(): boolean {
  return Boolean((tf.engine() as unknown as { backendName?: string | null }).backendName);
}

/** The backend in use, as our config names it. */
export function backendName(): BackendName {
  const active = tf.getBackend();
  const entry = (Object.entries(TF_NAMES) as [BackendName, string][]).find(([, tfName]) => tfName === active);
  return entry ? entry[0] : 'cpu';
}

interface WasmModule {
  HEAPU8?: Uint8Array;
  _malloc?: (bytes: number) => number;
}

/** The wasm backend's module (its heap and allocator), undefined under another backend or before it starts. */
function wasmModule(): WasmModule | undefined {
  if (tf.getBackend() !== TF_NAMES.wasm) return undefined;
  return (tf.findBackend(TF_NAMES.wasm) as unknown as { wasm?: WasmModule } | undefined)?.wasm;
}

/**
 * The wasm backend's linear memory in bytes (0 under another backend, or before it starts). It
 * grows as tensors need it and never shrinks: freed tensors leave room in it for the next ones.
 */
export function wasmHeapBytes(): number {
  return wasmModule()?.HEAPU8?.buffer.byteLength ?? 0;
}

/** The lowest and highest byte of the heap any tensor's data has taken, by module (a restarted backend is a new module). */
const allocatedExtents = new WeakMap<WasmModule, { low: number; high: number }>();

/**
 * Every tensor's data is allocated through the module's _malloc (tfjs-backend-wasm's write and
 * makeOutput), and written once allocated: so from the lowest byte an allocation took to the
 * highest one, the heap's pages have been touched, and stay resident (a wasm heap never gives
 * pages back). Watched from the backend's start; the kernels' own allocations inside the module
 * are not seen, and count as memory outside tensors (runtime/footprint.ts).
 */
function watchAllocations(wasm: WasmModule): void {
  let malloc = wasm._malloc;
  if (allocatedExtents.has(wasm) || malloc === undefined) return;
  const extent = { low: Number.POSITIVE_INFINITY, high: 0 };
  allocatedExtents.set(wasm, extent);
  const watched = (bytes: number) => {
    const at = (malloc as (bytes: number) => number)(bytes);
    // Emscripten's stub puts the module's own export in its place on its first call: put this back.
    if (wasm._malloc !== watched) {
      malloc = wasm._malloc;
      wasm._malloc = watched;
    }
    // `>>> 0`: offsets past 2 GiB come back negative (as tfjs-backend-wasm reads them).
    const offset = at >>> 0;
    if (offset !== 0) {
      extent.low = Math.min(extent.low, offset);
      extent.high = Math.max(extent.high, offset + bytes);
    }
    return at;
  };
  wasm._malloc = watched;
}

/**
 * Bytes of the wasm heap that tensors have touched (0 under another backend): the span of every
 * allocation tensors made, freed ones included, as their pages stay resident. What the heap has
 * beyond it, the part of its growth no tensor took yet, is not resident until one does.
 */
export function wasmHeapTouchedBytes(): number {
  const wasm = wasmModule();
  if (wasm === undefined) return 0;
  watchAllocations(wasm);
  const extent = allocatedExtents.get(wasm);
  return extent === undefined || extent.high === 0 ? 0 : extent.high - extent.low;
}
