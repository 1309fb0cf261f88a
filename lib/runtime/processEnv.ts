/**
 * The process settings of every function (serverless.yml's provider environment, read when the
 * process starts) and of `modelctl batch`'s workers, which run the range function's code on this
 * machine. A test checks that serverless.yml says the same.
 *
 * - NODE_OPTIONS=--expose-gc: the memory budget collects the JS heap's garbage once the process
 *   has grown by 48 MB since its last collection (runtime/footprint.ts), so an earlier request's
 *   garbage does not refuse the next one.
 *
 * glibc's malloc:
 * - MALLOC_ARENA_MAX=1: one arena instead of one per thread. V8's compiler and GC threads and
 *   libuv's pool otherwise each keep an arena whose freed memory the others cannot reuse (soak:
 *   about 20 MB less RSS).
 * - MALLOC_MMAP_THRESHOLD_=131072: blocks of 128 KiB and more always get their own mapping,
 *   returned to the kernel when freed. glibc's own threshold starts there but rises to the size of
 *   any mapped block freed (up to 32 MiB), after which such blocks come from the heap, which keeps
 *   them resident once something small is allocated above them. Soak RSS growth from request
 *   1,000 to 10,000: 4.9-10.2% without (11 runs, median 7.3%), 1.8-11.4% with (20 runs, median
 *   4.5%), end RSS 3-5 MB lower, at the same request rate. (A 32 KiB threshold held RSS lower
 *   still but halved batch throughput: every 64 KiB read chunk was mapped and unmapped.)
 */
export const FUNCTION_PROCESS_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--expose-gc',
  MALLOC_ARENA_MAX: '1',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/**
 * The V8 heap flags Lambda's Node.js runtime starts node with (its bootstrap script, on the command
 * line): a tenth of the function's memory for the young generation, a semi-space half of that, the
 * rest for the old generation. What runs a handler here as a function of some size (the memory
 * tests' processes) starts node with them too. At 256 MB they give V8's own young generation (V8
 * rounds a semi-space up to a power of two: 12 MB to 16); at 1024 and 2048 MB it grows to 128 MB
 * where V8's default stops at 32: integrated gradients through nsfwjs's MobileNetV2 peaked up to 33
 * MiB higher with them at 1024 MB and up to 57 at 2048 (729 of 1024 MiB, 1174 of 2048), within the
 * budget's reserve.
 */
export function lambdaNodeFlags(megabytes: number): string[] {
  const young = Math.floor(megabytes / 10);
  return [`--max-semi-space-size=${Math.floor(young / 2)}`, `--max-old-space-size=${megabytes - young}`];
}
