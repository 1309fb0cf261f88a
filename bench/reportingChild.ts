/**
 * Runs one bench/children/*.ts script in a fresh `node --import tsx` process (so its peak RSS is
 * its own) and returns the JSON object it prints on the line starting with MARKER. `node`: another
 * node binary than this one (Node 22, scripts/local/node22.ts).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MARKER } from './spawnTimer.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));

export function runReportingChild(script: string, args: string[], timeoutMs: number, node = process.execPath): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(node, ['--import', 'tsx', path.join(benchDir, 'children', script), ...args], {
      cwd: path.dirname(benchDir),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
      const report = line ? (JSON.parse(line.slice(MARKER.length)) as Record<string, unknown>) : undefined;
      if (!report) reject(new Error(`${script} exited with ${code} before reporting: ${stderr.trim().slice(-1000)}`));
      else if (typeof report.error === 'string') reject(new Error(`${script}: ${report.error}`));
      else resolve(report);
    });
  });
}
