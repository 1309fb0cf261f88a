/**
 * Runs `node <script> ...args` in a fresh process and times, from the parent, the wall clock from
 * spawn to the child's first report line. Children report on stdout as `BENCH <json>` lines, so
 * that the handler's own log lines (Powertools writes JSON to stdout too) cannot be mistaken for them.
 * A child that fails reports `BENCH {"error": "..."}`.
 */
import { spawn } from 'node:child_process';

export const MARKER = 'BENCH ';

export interface ChildRun {
  /** Spawn -> first BENCH line, measured in the parent. */
  wallMs: number;
  reports: Record<string, unknown>[];
}

/**
 * The environment a child gets: the parent's without tsx's hooks (its NODE_OPTIONS) and the names
 * in `drop`, then the bench's own settings, which may set NODE_OPTIONS again (the soak runs with
 * the functions' --expose-gc: it used to be dropped with tsx's, so the soak's handlers never
 * collected between requests as they do in Lambda).
 */
export function childEnv(extra: Record<string, string>, drop: string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['NODE_OPTIONS', ...drop]) delete env[name];
  return { ...env, ...extra };
}

/** `node` is the binary to run (default: this one), e.g. Node 22 for the Lambda runtime's version. */
export function runChild(script: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number; node?: string }): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let wallMs: number | undefined;
    const reports: Record<string, unknown>[] = [];
    let pending = '';
    let stderr = '';
    const child = spawn(options.node ?? process.execPath, [script, ...args], { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (!line.startsWith(MARKER)) continue;
        wallMs ??= performance.now() - started;
        reports.push(JSON.parse(line.slice(MARKER.length)) as Record<string, unknown>);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const failed = reports.find((r) => typeof r.error === 'string');
      if (failed) reject(new Error(`${script}: ${failed.error as string}`));
      else if (wallMs === undefined) reject(new Error(`${script} exited with ${code} before reporting: ${stderr.trim().slice(-2000)}`));
      else resolve({ wallMs, reports });
    });
  });
}
