/**
 * `serverless invoke local` runs a function inside the serverless CLI's own process, in its main
 * thread (serverless offline's functions are worker threads, measured by their isolate:
 * footprint.ts). That process's RSS holds the CLI as well, about 100 MB that a Lambda function does
 * not have, so a 256 MB function tried that way refused every gradient explanation, which the same
 * function serves under serverless offline and in AWS.
 *
 * What the CLI held when the bundle started (its banner records process.memoryUsage() then:
 * scripts/build.ts), beyond what a bare Node process holds, is counted out, except the room free
 * in its JS heap: the function's first objects fill that room without growing RSS (the bundle's
 * modules grew the CLI's RSS by 2 MB, a process of their own by 13), so it is counted as the
 * function's from the start, which errs towards refusing, as a Lambda process would.
 */
import { execFileSync } from 'node:child_process';
import { isMainThread } from 'node:worker_threads';

/** What a bare process of this Node holds: read from one, as it differs between Node versions. */
function bareNodeBytes(): number | undefined {
  try {
    const printed = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.memoryUsage.rss()))'], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { PATH: process.env.PATH },
    });
    const bytes = Number(printed);
    return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** serverless invoke local sets IS_LOCAL; its functions run in the CLI's main thread. */
function hostBytes(): number {
  const started = (globalThis as { __bundleStartMemory?: NodeJS.MemoryUsage }).__bundleStartMemory;
  if (process.env.IS_LOCAL !== 'true' || !isMainThread || started === undefined) return 0;
  const bare = bareNodeBytes();
  if (bare === undefined) return 0;
  return Math.max(0, started.rss - (started.heapTotal - started.heapUsed) - bare);
}

/** Bytes of the process's RSS that belong to a host the function runs inside, not to the function (0 on Lambda). */
export const HOST_PROCESS_BYTES = hostBytes();
