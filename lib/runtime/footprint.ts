/**
 * What the function holds outside tensors, measured: its resident memory less the part of it
 * tensors take or can take again. Node, the modules, the JS heap (a request's body, parsed, is in
 * it by the time its work is planned) are outside; the wasm heap is not, free parts included, as
 * tensors reuse them without the process growing.
 *
 * On Lambda a function is a process of its own: its resident memory is the process's RSS. Under
 * `serverless offline` every function is a worker thread of one process, where RSS is every
 * function's memory at once (a few heavy requests on one left all others refusing every request);
 * there a function's own memory is its isolate's: V8's heap, its array buffers, its wasm heap.
 * Under `serverless invoke local` it runs inside the CLI's process, whose own part is counted out
 * (hostProcess.ts).
 */
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { backendStarted, wasmHeapBytes, wasmHeapScatteredFreeBytes, wasmHeapTouchedBytes } from './backend.js';
import { HOST_PROCESS_BYTES } from './hostProcess.js';

/**
 * Pages of the wasm heap that were never touched are in its size but not in RSS, and become
 * resident when used: the heap starts at 16 MiB (little of it touched), and each growth takes a
 * fifth of the old size more than was asked for, at most 96 MiB more (emscripten's
 * _emscripten_resize_heap).
 */
const WASM_INITIAL_BYTES = 16 * 2 ** 20;
const untouchedWasmBytes = (heap: number) => Math.max(WASM_INITIAL_BYTES, Math.min(heap / 5, 96 * 2 ** 20));

/**
 * The wasm heap's resident part, as RSS counts it (0 under another backend): the span tensors have
 * touched (runtime/backend.ts), which stays resident when they are freed and is their room. An
 * estimate (the heap less untouchedWasmBytes) stood here before: after a 1920 x 1150 photo through
 * MobileNetV2 in a 256 MB function the heap was 58 MiB, 54 of them touched, and 12 MiB of its
 * free room counted as memory outside tensors; with what the JPEG decoder kept, the same photo
 * was refused when it came again (test/integration/warmPhoto.test.ts).
 */
const residentWasmBytes = (heap: number) => Math.min(heap, wasmHeapTouchedBytes());

/**
 * Room for tensors a pass may lose to its own chunks (0 under another backend): the estimate of the
 * heap's untouched part, and the free room inside the touched span beyond the resident part that
 * estimate left. That free room counts as room (residentWasmBytes), and is, for decoding an image
 * or a row's tensors; but it is fragmented, and a pass's calls of changing sizes find no block large
 * enough in it and grow the heap again (to about twice what the budget gave them, ops/runModel.ts's
 * chunkPassNeed), while the kernels' own allocations inside the module (backend.ts sees only
 * tensors') count as memory outside tensors. So a pass is planned with the room the estimate gave
 * it: work planned before its pass runs keeps this much for it (ops/runModel.ts's forwardNeed). In
 * a fresh 256 MB function, a request whose rows had left 11.8 MB had 2.3 MB after its pass's first
 * chunks, and was refused part way; kept as only the heap beyond the touched span (near 0 once
 * tensors had touched it all), evaluate's chunks of a convolution model took a fresh 256 MB
 * function to 298-300 MB, with this 218-221 MB, as with the estimate alone
 * (test/integration/smallFunction.test.ts).
 */
export function roomAPassMayLose(): number {
  const heap = wasmHeapBytes();
  // The estimate, at most what tensors have not touched (never less than a fresh heap's): once a
  // pass had grown the heap past 80 MB and touched it, a fifth of it counted as lost, though
  // touched room is room (residentWasmBytes), and a 256 MB function that named 12 images of a
  // 400 x 400 convolution model fresh named 11, then 10, once warm (test/integration/promisedCount.test.ts).
  const untouched = Math.min(heap, Math.max(WASM_INITIAL_BYTES, Math.min(untouchedWasmBytes(heap), heap - wasmHeapTouchedBytes())));
  const beyondEstimate = residentWasmBytes(heap) - (heap - untouched);
  // Finding the pieces sorts the live allocations: only when there is room beyond the estimate to lose.
  return untouched + (beyondEstimate > 0 ? Math.min(beyondEstimate, wasmHeapScatteredFreeBytes()) : 0);
}

/**
 * A worker thread's own memory: its isolate's V8 heap and array buffers (tensors under cpu, request
 * bodies), which process.memoryUsage() reports per isolate, and its wasm heap's resident part (a
 * WebAssembly.Memory is in neither figure). Not `external`: V8 counts the wasm memory in it some
 * of the time, after a growth twice, so it would count tensors as memory outside them.
 */
function isolateBytes(): number {
  const { heapTotal, arrayBuffers } = process.memoryUsage();
  return heapTotal + arrayBuffers + residentWasmBytes(wasmHeapBytes());
}

/**
 * The function's resident memory, read at most once in this many ms: reading it costs about 10 us
 * (a /proc read), and one small predict asks the budget three or four times, 20% of its time. What
 * a request allocates in 5 ms (a JSON body parses at a few hundred MB/s: about 1 MB) is within the
 * safety margin; a body large enough to matter takes longer than that to parse, so its planning
 * reads it afresh.
 */
const RESIDENT_FRESH_MS = 5;
let residentRead = { at: Number.NEGATIVE_INFINITY, bytes: 0 };

function residentBytes(): number {
  const now = performance.now();
  if (now - residentRead.at > RESIDENT_FRESH_MS) residentRead = { at: now, bytes: isMainThread ? process.memoryUsage.rss() - HOST_PROCESS_BYTES : isolateBytes() };
  return residentRead.bytes;
}

/** What the function holds outside tensors now (see bytesOutsideTensors). */
function measuredOutsideTensors(): number {
  const resident = residentBytes();
  const tensors = tf.memory().numBytes;
  const heap = wasmHeapBytes();
  // Under wasm, tensors and the heap's free room are the heap's resident part; under cpu and
  // tfjs-node, tensors are buffers of their own that go back to the system when freed.
  const tensorMemory = heap > 0 ? Math.max(tensors, residentWasmBytes(heap)) : tensors;
  return Math.max(0, resident - tensorMemory);
}

/**
 * Garbage of an earlier request counts as resident until the JS heap's next full collection: right
 * after a predict of 6,000 digits (a 10 MB body) in a 256 MB function, the same request was a 413
 * for the garbage of the ones before it. Where the process can collect (node --expose-gc, which
 * serverless.yml's NODE_OPTIONS gives every function), it does, once what it holds has grown this
 * much since the last collection: a full collection takes tens of milliseconds, after large
 * requests only.
 */
const GROWTH_BEFORE_COLLECTING = 48 * 2 ** 20;
const collect = (globalThis as { gc?: (options?: { type: 'major' | 'minor' }) => void }).gc;
let sinceCollection: number | undefined;

/**
 * A full collection, then what the function holds measured. The collection frees array buffers
 * (decoded images, rows of model input, bodies) on a background thread after it returns: measured
 * at once, in some runs 20 to 30 MB of two freed photos' buffers were still resident, in others
 * none (a timing that also fits the small request after a large one refused about 1 run in 7). A
 * scavenge waits for that sweep to finish (0.2 to 6 ms measured), so the measure is of what is
 * still referenced.
 */
function collectNow(): number {
  if (collect) {
    collect();
    collect({ type: 'minor' });
  }
  residentRead = { at: Number.NEGATIVE_INFINITY, bytes: 0 };
  sinceCollection = measuredOutsideTensors();
  firstCollected ??= sinceCollection;
  return sinceCollection;
}

/**
 * A fresh function's memory outside tensors grows over its first requests that run a model, and
 * then stays: serving 100 to 120 images through a convolution model, a 256 MB function measured 63
 * MB at its first refusal, 71 to 72 after one request, 76 to 81 after two, flat after eight.
 * It is native memory (V8's heap, young generation included, and the wasm heap stay as they
 * were), and V8's compilers are not it (as much with --no-opt or --no-wasm-tier-up); a request
 * reuses part of it. A count named before that growth was served twice, then refused.
 */
const WARM_UP_BYTES = 16 * 2 ** 20;
/** The first measure after a collection: the level the warm-up is counted from. */
let firstCollected: number | undefined;

/**
 * What of the warm-up growth this process has not shown yet, by its measures after collections:
 * all of it before the first. A process first measured when already warm counts its growth from
 * there, and so keeps back more than it needs, never less.
 */
export function warmUpAhead(): number {
  if (firstCollected === undefined || sinceCollection === undefined) return WARM_UP_BYTES;
  return Math.max(0, WARM_UP_BYTES - Math.max(0, sinceCollection - firstCollected));
}

/**
 * Before work is refused for memory (MemoryBudget.availableFor): collects the JS heap's garbage
 * now, so that what is measured next counts only what is still referenced. The growth check above
 * leaves up to 48 MB of garbage uncollected, and a collection at a request's start cannot free
 * what the request then makes: in a 256 MB function the freed buffers of one photo's decoding
 * (30 MB) refused the next photo of the same request. False where the process cannot collect
 * (no --expose-gc): nothing was done.
 */
export function collectBeforeRefusing(): boolean {
  if (collect === undefined) return false;
  collectNow();
  return true;
}

/** Bytes of the function's resident memory that are neither tensors nor room for them. */
export function bytesOutsideTensors(): number {
  const outside = measuredOutsideTensors();
  if (collect === undefined) return outside;
  if (sinceCollection === undefined || outside <= sinceCollection + GROWTH_BEFORE_COLLECTING) {
    sinceCollection ??= outside;
    return outside;
  }
  return collectNow();
}

/**
 * A collection inside a request cannot free that request's own data, and takes it as the level to
 * grow from: a request refused part way (an image at instances[125], its earlier rows decoded), or
 * a large one that succeeded, left the next requests measured against a level that included it,
 * and a 256 MB function refused every later request "not even one fits". So the level that counts
 * is the one between requests: at a request's start, nothing of the one before is referenced, and
 * the process collects when it holds this much more than after its last collection between
 * requests, or when the request before was refused for memory.
 */
let betweenRequests: number | undefined;
let refusedSinceCollection = false;

/** A request was refused for memory: the next one starts with a collection (startRequest). */
export function noteMemoryRefusal(): void {
  refusedSinceCollection = true;
}

/**
 * The wasm heap's resident part when the request began (0 under another backend): what earlier
 * requests grew it to, which it holds whatever tensors use, as a wasm heap never shrinks. Not its
 * size now: a request's own passes grow it past what they hold (roomAPassMayLose), and counted
 * against the request, that growth refused it part way.
 */
let tensorRoomAtStart = 0;
export function tensorRoomHeldSinceEarlierRequests(): number {
  return tensorRoomAtStart;
}

/** At the start of a request, before anything of it is planned (lib/api/bind.ts). */
export function startRequest(): void {
  tensorRoomAtStart = residentWasmBytes(wasmHeapBytes());
  if (collect === undefined || !backendStarted()) return;
  const refused = refusedSinceCollection;
  refusedSinceCollection = false;
  const outside = measuredOutsideTensors();
  if (betweenRequests === undefined) betweenRequests = outside;
  if (refused || outside > betweenRequests + GROWTH_BEFORE_COLLECTING) betweenRequests = collectNow();
}
