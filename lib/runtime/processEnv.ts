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

/**
 * The V8 flags of `modelctl batch`'s workers, which run on the node that runs modelctl (its
 * process.execPath), by that node's major version. Figures: 4 million iris rows (bench/batchShard.ts).
 *
 * - Node 20 (V8 11.3): --single-threaded-gc keeps each worker's collector on its own core (parallel
 *   GC threads of N workers fought over the same cores), and --heap-growing-percent=25 lets the old
 *   generation grow only a quarter past what the last collection left, so a worker holds what it
 *   uses: a peak of about 130 MB, flat from range to range, where V8's own growth took one worker to
 *   131-194 MB, its peak rising up to 12% from its middle range to its last (explicit gc() calls held it
 *   as low, but V8 then threw away and compiled again the optimized scoring code after each one).
 * - Node 22 and later (V8 12.4, 13.6): none. There the same two flags kept the collector marking on
 *   the main thread through most of a run (each scavenge interleaved with marking, 5 ms against 1.6;
 *   the collector 41% of the worker's profile against 20% on Node 20): one worker took 11.0-11.9 s
 *   against 6.9-9.2 without them on Node 22 and 9.7-9.9 against 6.3-7.2 on Node 24, two workers
 *   6.7-7.2 against 5.5-7.1 and 6.1-6.3 against 4.8-5.0. Without them a worker peaks at 210-240 MB
 *   on Node 22 (its last range at most 6% above its middle one) and 237-284 MB on Node 24 (up to
 *   12%). --heap-growing-percent=50 alone held Node 22's workers at 140-147 MB but two of them took
 *   6.4-6.8 s against 5.6-5.9: a laptop has the memory, and the time is what it waits for.
 */
export function batchWorkerNodeFlags(nodeVersion: string = process.versions.node): string[] {
  const major = Number(nodeVersion.split('.')[0]);
  return major <= 20 ? ['--single-threaded-gc', '--heap-growing-percent=25'] : [];
}
