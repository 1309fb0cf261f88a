/**
 * Every example the README shows, run as a user would after `npm start`: the same script
 * (scripts/start.ts: serverless offline, the local S3 and its batch events) on free ports, over a
 * copy of models/ so nothing in the repository changes, each command through bash from a working
 * folder that holds that copy (models/), examples/ and node_modules/. What a command answers must
 * show what the README's comment under it says (test/helpers/readme.ts); a command without one
 * must succeed. Skipped, and why: npm itself (CI runs it), deploys and other AWS commands, and
 * placeholders a user fills in (`./my-model`). `<id>` is the id the previous answer gave; job and
 * batch-output reads are repeated until they show what the README says (they are asynchronous).
 */
import { exec, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../helpers/offline.js';
import { readmeSteps, unmet } from '../helpers/readme.js';

const run = promisify(exec);
const repo = path.resolve('.');

const SKIP = [
  [/^npm /, 'npm itself: CI runs it'],
  [/serverless deploy|s3:\/\/my-bucket/, 'needs an AWS account'],
  [/my-tfjs-model|my-model|mymodel/, 'a placeholder for the user\u2019s own model'],
] as const;

let work: string;
let ports: { http: number; lambda: number; s3: number };
let server: ChildProcess | undefined;
let log = '';

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'readme-'));
  await cp(path.join(repo, 'models'), path.join(work, 'models'), { recursive: true });
  await symlink(path.join(repo, 'examples'), path.join(work, 'examples'));
  await mkdir(path.join(work, 'test'));
  await symlink(path.join(repo, 'test/fixtures'), path.join(work, 'test/fixtures'));
  await symlink(path.join(repo, 'node_modules'), path.join(work, 'node_modules'));
  const [http, lambda, s3] = await freePorts(3);
  ports = { http, lambda, s3 };
  server = spawn(
    path.join(repo, 'node_modules/.bin/tsx'),
    ['--openssl-legacy-provider', 'scripts/start.ts', '--skip-build', '--httpPort', String(ports.http), '--lambdaPort', String(ports.lambda)],
    {
      cwd: repo,
      env: {
        ...process.env,
        MODEL_STORE_URI: `file://${work}/models`,
        LOCAL_S3_PORT: String(ports.s3),
        LOCAL_S3_DIR: path.join(work, 's3'),
        POWERTOOLS_LOG_LEVEL: 'WARN',
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start's script did not get ready:\n${log}`)), 90_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready:')) {
        clearTimeout(timer);
        resolve();
      }
    };
    server?.stdout?.on('data', onData);
    server?.stderr?.on('data', onData);
    server?.once('exit', (code) => reject(new Error(`npm start's script exited with ${code}:\n${log}`)));
  });
}, 120_000);

afterAll(async () => {
  if (server?.pid === undefined || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server?.once('exit', resolve));
  process.kill(-server.pid, 'SIGTERM');
  await exited;
});

/** The README's command as run here: its ports, the CLI of this checkout, the export folder in the work folder. */
function localised(command: string): string {
  return command
    .replaceAll('localhost:3000', `localhost:${ports.http}`)
    .replaceAll('127.0.0.1:4569', `127.0.0.1:${ports.s3}`)
    .replaceAll('npx modelctl', `node ${path.join(repo, 'bin/modelctl.js')}`)
    .replaceAll('/tmp/nsfwjs', path.join(work, 'nsfwjs'));
}

const isRepeated = (command: string) => /\/v2\/jobs\/|:4569\/local-bucket\/batch\/output|:4569\/local-bucket\/imports\/.*\.outcome\.json/.test(command);

describe('the README, run as written', () => {
  it("reads an example's comment as a claim that can fail", () => {
    expect(unmet('{"score":0.9999,"label":"setosa"}', '{"x":[{"score":0.99994,"label":"setosa"}]}')).toBeUndefined();
    expect(unmet('{"score":0.9999}', '{"score":0.9997}')).toMatch(/score/);
    expect(unmet('{"label":"setosa",...', '{"label":"virginica"}')).toMatch(/label/);
    expect(unmet('{"predictions":[[0.99...', '{"predictions":[[0.98]]}')).toMatch(/contain/);
    expect(unmet('pushed nsfw:1 (layers, classification) to file:///...', 'pushed nsfw:2 (layers, classification) to file:///x')).toMatch(/contain/);
  });

  it('does what every example says', { timeout: 480_000 }, async () => {
    const steps = readmeSteps(await readFile(path.join(repo, 'README.md'), 'utf8'));
    let lastId: string | undefined;
    let ran = 0;
    // `photo=...` lines set a shell variable for the commands after them, as in one terminal.
    let variables = '';
    for (const step of steps) {
      if (SKIP.some(([pattern]) => pattern.test(step.command))) continue;
      if (/^[A-Za-z_]+=\S+$/.test(step.command)) {
        variables += `${step.command}\n`;
        continue;
      }
      let command = variables + localised(step.command);
      if (command.includes('<id>')) {
        expect(lastId, `README line ${step.line}: no id to use`).toBeDefined();
        command = command.replaceAll('<id>', lastId as string);
      }
      const where = `README line ${step.line}: ${step.command.split('\n')[0].slice(0, 120)}`;
      let output = '';
      let problem: string | undefined;
      for (let attempt = 0; attempt < (isRepeated(step.command) ? 120 : 1); attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 250));
        try {
          output = (await run(command, { cwd: work, shell: '/bin/bash', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, MODEL_STORE_URI: `file://${work}/models` } })).stdout;
        } catch (error) {
          throw new Error(`${where} failed: ${(error as { stderr?: string }).stderr ?? error}\n${log.slice(-2000)}`);
        }
        problem = step.expectations.map((e) => unmet(e, output)).find((p) => p !== undefined);
        // A job is done when it says so; a batch output exists once scored.
        const pending = /"status":"(queued|running)"/.test(output) || output.includes('NoSuchKey');
        if (!problem && !pending) break;
      }
      expect(problem, `${where}\n  answered: ${output.slice(0, 600)}`).toBeUndefined();
      const id = /"id":"([0-9a-f-]{36})"/.exec(output)?.[1];
      if (id) lastId = id;
      // Files a command writes must be there and be what they claim.
      const written = /> (\S+\.(?:png|html))|--(?:png|html) (\S+)/.exec(step.command);
      if (written) {
        const file = path.join(work, written[1] ?? written[2]);
        const bytes = await readFile(file);
        expect((await stat(file)).size, `${where}: ${file}`).toBeGreaterThan(100);
        if (file.endsWith('.png')) expect(bytes.subarray(1, 4).toString(), `${where}: ${file} is a PNG`).toBe('PNG');
        else expect(bytes.toString(), `${where}: ${file}`).toMatch(/^<!doctype html>/i);
      }
      ran += 1;
    }
    expect(ran).toBeGreaterThan(40);
  });
});
