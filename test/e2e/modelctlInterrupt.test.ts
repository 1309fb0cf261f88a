/**
 * `modelctl batch` stopped mid-run, as a user stops it: Ctrl-C (SIGINT to its whole process group,
 * the workers included) or SIGTERM to modelctl alone (kill, a CI runner cancelling a step). It ends
 * by that signal with one line saying what is kept, no worker goes on scoring as an orphan (before,
 * a worker finished its range after modelctl was gone and then died printing a stack trace), the
 * worker bundle it built under node_modules/.cache/modelctl is removed, and the same command then
 * finishes, leaving only the outputs in --out.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { runModelctl } from '../helpers/modelctl.js';

const modelctl = path.resolve('bin/modelctl.js');
const bundles = path.resolve('node_modules/.cache/modelctl');
let file: string;

/** The processes whose parent is `pid` (Linux's /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command's closing parenthesis: state, then the parent's pid.
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
  }
  return found;
}

/** A file of /proc, or nothing once its process is gone. */
function procFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Running: there, and not a zombie its parent has yet to reap. */
const alive = (pid: number) => /\) [^Z] /.test(procFile(`/proc/${pid}/stat`));

beforeAll(async () => {
  // About 30 MB of iris rows: 2 workers take a few seconds over it, in ranges of 2 MB.
  const [header, ...rows] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
  const lines = Array.from({ length: 1_400_000 }, (_, i) => rows[i % rows.length]);
  file = path.join(await mkdtemp(path.join(tmpdir(), 'modelctl-interrupt-')), 'many.csv');
  await writeFile(file, `${header}\n${lines.join('\n')}\n`);
});

describe('modelctl batch, interrupted', () => {
  it.each([
    ['Ctrl-C (SIGINT to its process group)', 'SIGINT', true],
    ['SIGTERM to modelctl alone', 'SIGTERM', false],
  ] as const)(
    '%s: ends by the signal with one line, no worker left running, no bundle left; the same command then finishes',
    async (_how, signal, group) => {
      const out = await mkdtemp(path.join(tmpdir(), 'modelctl-interrupt-out-'));
      const args = ['batch', file, '--model', 'iris', '--workers', '2', '--range-bytes', String(2 * 2 ** 20), '--out', out];
      const { MODEL_STORE_URI: _store, ...env } = process.env;
      const child = spawn(modelctl, args, { env, detached: group, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const exited = once(child, 'exit');
      // Every holder of its stderr (the workers inherit it) has closed it.
      const closed = once(child, 'close');
      const pid = child.pid as number;
      // Interrupted once a range is scored: the workers are busy with the next ones.
      // The parts folder of the file's version (its only one).
      const parts = path.join(out, 'many.csv.parts');
      const scoredOne = async () => {
        const [version] = await readdir(parts).catch((): string[] => []);
        return version !== undefined && (await readdir(path.join(parts, version)).catch((): string[] => [])).includes('00000.json');
      };
      const workersRunning = async () => (await childrenOf(pid)).filter((p) => /batchWorker/.test(procFile(`/proc/${p}/cmdline`)));
      // Both workers seen at once: on a loaded machine the second can still be starting (its
      // command line not yet the worker's) when the first has scored its range.
      let workers: number[] = [];
      for (let waited = 0; ; waited += 20) {
        if (await scoredOne()) {
          workers = await workersRunning();
          if (workers.length >= 2) break;
        }
        if (waited > 60_000) throw new Error(`no range scored with both workers running (${workers.length} seen): ${stderr}`);
        await sleep(20);
      }
      expect(workers).toHaveLength(2);
      process.kill(group ? -pid : pid, signal);
      const [code, killedBy] = (await exited) as [number | null, NodeJS.Signals | null];
      expect([code, killedBy]).toEqual([null, signal]);
      // The workers stop with modelctl, rather than finish their ranges for nobody.
      for (let waited = 0; workers.some(alive) && waited < 2000; waited += 20) await sleep(20);
      expect(workers.filter(alive)).toEqual([]);
      await closed;
      expect(stderr).toBe(`modelctl: interrupted (${signal}): the ranges scored so far are kept in ${out} (many.csv.parts/), which the same command reuses\n`);
      expect((await readdir(bundles).catch(() => [])).filter((name) => name.startsWith(`batchWorker-${pid}-`))).toEqual([]);

      const rerun = await runModelctl(args, env);
      expect([rerun.code, rerun.stderr]).toEqual([0, '']);
      expect(JSON.parse(rerun.stdout)).toMatchObject({ status: 'succeeded', rows: { read: 1_400_000, scored: 1_400_000, failed: 0 } });
      expect((await readdir(out)).sort()).toEqual(['many.csv.errors.jsonl', 'many.csv.manifest.json', 'many.csv.predictions.csv']);
    },
    120_000,
  );
});
