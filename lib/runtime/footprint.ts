/**
 * What the process holds outside tensors, measured: its resident memory (RSS) less the part of it
 * tensors take or can take again. Node, the modules, the JS heap (a request's body, parsed, is in
 * it by the time its work is planned) are outside; the wasm heap is not, free parts included, as
 * tensors reuse them without the process growing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmHeapBytes } from './backend.js';

/**
 * Pages of the wasm heap that were never touched are in its size but not in RSS, and become
 * resident when used: the heap starts at 16 MiB (little of it touched), and each growth takes a
 * fifth of the old size more than was asked for, at most 96 MiB more (emscripten's
 * _emscripten_resize_heap). Counting that much of the heap as not resident keeps an untouched page
 * from being counted as room twice: once as free heap, once as memory the function has left.
 */
const WASM_INITIAL_BYTES = 16 * 2 ** 20;
const untouchedWasmBytes = (heap: number) => Math.max(WASM_INITIAL_BYTES, Math.min(heap / 5, 96 * 2 ** 20));

/**
 * RSS read at most once in this many ms: reading it costs about 10 us (a /proc read), and one small
 * predict asks the budget three or four times, 20% of its time. What a request allocates in 5 ms
 * (a JSON body parses at a few hundred MB/s: about 1 MB) is within the safety margin; a body large
 * enough to matter takes longer than that to parse, so its planning reads RSS afresh.
 */
const RSS_FRESH_MS = 5;
let rssRead = { at: Number.NEGATIVE_INFINITY, bytes: 0 };

function residentBytes(): number {
  const now = performance.now();
  if (now - rssRead.at > RSS_FRESH_MS) rssRead = { at: now, bytes: process.memoryUsage.rss() };
  return rssRead.bytes;
}

/** What the process holds outside tensors now (see bytesOutsideTensors). */
function measuredOutsideTensors(): number {
  const rss = residentBytes();
  const tensors = tf.memory().numBytes;
  const heap = wasmHeapBytes();
  // Under wasm, tensors and the heap's free room are the heap's resident part; under cpu and
  // tfjs-node, tensors are buffers of their own that go back to the system when freed.
  const tensorMemory = heap > 0 ? Math.max(tensors, heap - untouchedWasmBytes(heap)) : tensors;
  return Math.max(0, rss - tensorMemory);
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
const collect = (globalThis as { gc?: () => void }).gc;
let sinceCollection: number | undefined;

/** Bytes of RSS that are neither tensors nor room for them. */
export function bytesOutsideTensors(): number {
  const outside = measuredOutsideTensors();
  if (collect === undefined) return outside;
  if (sinceCollection === undefined || outside <= sinceCollection + GROWTH_BEFORE_COLLECTING) {
    sinceCollection ??= outside;
    return outside;
  }
  collect();
  rssRead = { at: Number.NEGATIVE_INFINITY, bytes: 0 };
  sinceCollection = measuredOutsideTensors();
  return sinceCollection;
}
