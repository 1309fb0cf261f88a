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
  _free?: (offset: number) => void;
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

/** The most bytes held at once since a mark was set. */
interface PeakMark {
  peak: number;
}

/**
 * What the backend's allocations through the module's _malloc and _free have done, by module (a
 * restarted backend is a new module): the lowest and highest byte any took, and the bytes held now.
 */
interface Allocations {
  low: number;
  high: number;
  held: number;
  sizes: Map<number, number>;
  marks: Set<PeakMark>;
}
const watchedModules = new WeakMap<WasmModule, Allocations>();

/**
 * Every tensor's data is allocated through the module's _malloc (tfjs-backend-wasm's write and
 * makeOutput) and freed through its _free (disposeData), and written once allocated: so from the
 * lowest byte an allocation took to the highest one, the heap's pages have been touched, and stay
 * resident (a wasm heap never gives pages back). Watched from the backend's start. The tensors a
 * kernel makes and frees inside itself are seen too (the Mean under a global average pool
 * transposes its input into one: tf.profile, which counts tensors between kernels, missed it);
 * the kernels' allocations inside the module (XNNPACK's) are not, and count as memory outside
 * tensors (runtime/footprint.ts). Emscripten's stubs put the module's own exports in their place
 * on their first call: each wrapper puts itself back.
 */
function watchAllocations(wasm: WasmModule): void {
  let malloc = wasm._malloc;
  let free = wasm._free;
  if (watchedModules.has(wasm) || malloc === undefined || free === undefined) return;
  const seen: Allocations = { low: Number.POSITIVE_INFINITY, high: 0, held: 0, sizes: new Map(), marks: new Set() };
  watchedModules.set(wasm, seen);
  const watchedMalloc = (bytes: number) => {
    const at = (malloc as (bytes: number) => number)(bytes);
    if (wasm._malloc !== watchedMalloc) {
      malloc = wasm._malloc;
      wasm._malloc = watchedMalloc;
    }
    // `>>> 0`: offsets past 2 GiB come back negative (as tfjs-backend-wasm reads them).
    const offset = at >>> 0;
    if (offset !== 0) {
      seen.low = Math.min(seen.low, offset);
      seen.high = Math.max(seen.high, offset + bytes);
      seen.sizes.set(offset, bytes);
      seen.held += bytes;
      for (const mark of seen.marks) mark.peak = Math.max(mark.peak, seen.held);
    }
    return at;
  };
  const watchedFree = (at: number) => {
    (free as (at: number) => void)(at);
    if (wasm._free !== watchedFree) {
      free = wasm._free;
      wasm._free = watchedFree;
    }
    const offset = at >>> 0;
    seen.held -= seen.sizes.get(offset) ?? 0;
    seen.sizes.delete(offset);
  };
  wasm._malloc = watchedMalloc;
  wasm._free = watchedFree;
}

function watched(): Allocations | undefined {
  const wasm = wasmModule();
  if (wasm === undefined) return undefined;
  watchAllocations(wasm);
  return watchedModules.get(wasm);
}

/**
 * Bytes of the wasm heap that tensors have touched (0 under another backend): the span of every
 * allocation tensors made, freed ones included, as their pages stay resident. What the heap has
 * beyond it, the part of its growth no tensor took yet, is not resident until one does.
 */
export function wasmHeapTouchedBytes(): number {
  const seen = watched();
  return seen === undefined || seen.high === 0 ? 0 : seen.high - seen.low;
}

/**
 * Free bytes inside the span tensors have touched that lie outside its largest free stretch (0
 * under another backend): room the heap holds in pieces between live allocations, which a call
 * larger than a piece cannot use. Between requests only the weights are alive, and the span above
 * them is one free stretch.
 */
export function wasmHeapScatteredFreeBytes(): number {
  const seen = watched();
  if (seen === undefined || seen.high === 0) return 0;
  const live = [...seen.sizes].sort((a, b) => a[0] - b[0]);
  let largest = 0;
  let from = seen.low;
  for (const [offset, bytes] of live) {
    largest = Math.max(largest, offset - from);
    from = Math.max(from, offset + bytes);
  }
  return Math.max(0, seen.high - seen.low - seen.held - Math.max(largest, seen.high - from));
}

/**
 * Runs `run`, which must be synchronous (a kernel), and gives how far the bytes the backend's
 * allocations held rose during it above what they hold once it returns: the tensors it made and
 * freed inside itself (0 under another backend, whose kernels' temporaries are not seen).
 */
export function bytesFreedWithin(run: () => void): number {
  const seen = watched();
  if (seen === undefined) {
    run();
    return 0;
  }
  const mark = { peak: seen.held };
  seen.marks.add(mark);
  try {
    run();
    return mark.peak - seen.held;
  } finally {
    seen.marks.delete(mark);
  }
}
