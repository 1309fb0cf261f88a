/**
 * Starts the real `serverless offline` (osls + serverless-offline) on free ports, serving the
 * built bundles in dist/ and the demo models in models/, and stops it (the whole process group).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { offlineEnv } from '../../scripts/local/offlineEnv.js';

/**
 * `count` distinct free ports. Every probe socket stays open until all are chosen: probing one
 * port at a time can hand back the same port twice (the first is released before the second
 * probe), and two servers then race for it (EADDRINUSE).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export interface Offline {
  url: string;
  stop(): Promise<void>;
  output(): string;
}

export async function startOffline(env: Record<string, string> = {}, timeoutMs = 90_000, args: string[] = []): Promise<Offline> {
  const [httpPort, lambdaPort] = await freePorts(2);
  const bin = path.resolve('node_modules/.bin/serverless');
  const child: ChildProcess = spawn(bin, ['offline', 'start', '--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort), ...args], {
    cwd: path.resolve('.'),
    // As npm start runs it (offlineEnv): a background invocation that throws does not end the server.
    env: offlineEnv({ ...process.env, POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'WARN', LAMBDA_ENDPOINT: `http://127.0.0.1:${lambdaPort}`, ...env }),
    detached: true, // its own process group, so stop() also ends the worker processes it forks
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serverless offline did not start in ${timeoutMs} ms:\n${log}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (/Server ready/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serverless offline exited with ${code}:\n${log}`));
    });
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  return { url: `http://127.0.0.1:${httpPort}`, stop, output: () => log };
}
