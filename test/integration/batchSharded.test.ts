/**
 * Sharded batch scoring (lib/batch/shard/) run on this machine as `modelctl batch` runs it: a plan
 * of byte ranges, worker processes, a join. With 1, 2 and 4 workers, and with a worker killed in
 * the middle of a range, the outputs are byte for byte those of the run through one function
 * (run.ts's scoreObject) on the same file: a CSV with quoted newlines, blank lines and bad rows,
 * and a JSON Lines file with bad lines. Small CSVs whose quotes a planner could misread (a quote
 * inside an unquoted field, "" escapes, a closing quote that whitespace follows, a BOM before a
 * quoted header, CRLF, blank lines before the header) are cut at every range size from 1 to 60 bytes and scored range by range in
 * this process as the state machine's tasks score them: the same outputs again, and a file the run
 * through one function refuses is refused in the same words.
 */
import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, ConflictError, DAMAGED_VERSION, IntegrityError, ServiceError, UnavailableError } from '../../lib/errors.js';
import { pathToFileURL } from 'node:url';
import { batch } from '../../cli/commands/batch.js';
import { outputsFor, parseInputKey, shardOutputsFor, type ShardOutputs } from '../../lib/batch/paths.js';
import { joinRanges } from '../../lib/batch/shard/join.js';
import { failureKind, runLocally, type LocalRunOptions } from '../../lib/batch/shard/local.js';
import { planRanges } from '../../lib/batch/shard/plan.js';
import { scoreRange } from '../../lib/batch/shard/range.js';
import { buildWorker } from '../../cli/workerBundle.js';
import { parseModelRef } from '../../lib/registry/index.js';
import { removeParts, scoreObject } from '../../lib/batch/run.js';
import { oneInvocation } from '../helpers/batchOptions.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { listAll } from '../../lib/store/index.js';

let app: App;
let store: FolderStore;
let dir: string;

/** 3,000 iris rows: every 7th has a quoted note with a comma and a newline, every 53rd a bad feature, a few blank lines. */
async function flowersCsv(): Promise<string> {
  const rows = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n').slice(1);
  const lines = ['sepal_length,sepal_width,petal_length,petal_width,species,note'];
  for (let i = 0; i < 3000; i += 1) {
    const cells = rows[i % rows.length].split(',');
    if (i % 53 === 0) cells[0] = 'x';
    lines.push(`${cells.join(',')},${i % 7 === 0 ? `"note ${i}, with a\nnewline"` : `n${i}`}`);
    if (i % 997 === 0) lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

async function flowersJsonl(): Promise<string> {
  const rows = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n').slice(1);
  const names = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
  const lines: string[] = [];
  for (let i = 0; i < 2000; i += 1) {
    const cells = rows[i % rows.length].split(',');
    lines.push(i % 61 === 0 ? '{not json' : JSON.stringify(Object.fromEntries(names.map((n, j) => [n, Number(cells[j])]))));
  }
  return `${lines.join('\n')}\n`;
}

/** The outputs of the run through one function. */
async function single(name: string, body: string): Promise<{ predictions: Buffer; errors: Buffer; rows: unknown }> {
  const key = `batch/input/iris/${name}`;
  await store.put(key, body);
  const options = oneInvocation(64);
  const outcome = await scoreObject(store, app.services.loader, key, options);
  expect(outcome.status).toBe('succeeded');
  const base = `batch/output/iris/${name}`;
  const ext = name.endsWith('.csv') ? 'csv' : 'jsonl';
  return { predictions: Buffer.from(await store.get(`${base}.predictions.${ext}`)), errors: Buffer.from(await store.get(`${base}.errors.jsonl`)), rows: outcome.manifest?.rows };
}

async function sharded(name: string, workers: number, onRangeStart?: (index: number, pid: number) => void, rangeTimeout?: string, rangeBytes = '12000', into?: string) {
  const out = into ?? (await mkdtemp(path.join(tmpdir(), 'sharded-out-')));
  const manifest = await batch(app.services, path.join(dir, name), { model: 'iris', workers: String(workers), out, rangeBytes, onRangeStart, rangeTimeout });
  const ext = name.endsWith('.csv') ? 'csv' : 'jsonl';
  return {
    manifest,
    predictions: await readFile(path.join(out, `${name}.predictions.${ext}`)),
    errors: await readFile(path.join(out, `${name}.errors.jsonl`)),
    // Everything in --out: the outputs alone, no parts and no empty `{name}.parts/` folder.
    outFolder: (await readdir(out)).sort(),
  };
}

/** What a finished run leaves in --out: its three outputs, sorted. */
const outputNames = (name: string) => [`${name}.errors.jsonl`, `${name}.manifest.json`, `${name}.predictions.${name.endsWith('.csv') ? 'csv' : 'jsonl'}`];

beforeAll(async () => {
  store = await tempFolderStore();
  app = serving('file://models');
  dir = await mkdtemp(path.join(tmpdir(), 'sharded-in-'));
  await writeFile(path.join(dir, 'flowers.csv'), await flowersCsv());
  await writeFile(path.join(dir, 'flowers.jsonl'), await flowersJsonl());
});

describe.each(['flowers.csv', 'flowers.jsonl'])('%s', (name) => {
  let reference: Awaited<ReturnType<typeof single>>;
  beforeAll(async () => {
    reference = await single(name, await readFile(path.join(dir, name), 'utf8'));
    expect(reference.errors.length).toBeGreaterThan(0);
  });

  it.each([1, 2, 4])(
    'with %i worker(s): the outputs of the run through one function, byte for byte',
    async (workers) => {
      const run = await sharded(name, workers);
      expect(run.manifest.status).toBe('succeeded');
      expect(run.manifest.invocations).toBeGreaterThan(3); // several ranges
      expect(run.predictions.equals(reference.predictions)).toBe(true);
      expect(run.errors.equals(reference.errors)).toBe(true);
      expect(run.manifest.rows).toEqual(reference.rows);
      expect(run.outFolder).toEqual(outputNames(name));
    },
    120_000,
  );

  it('a worker killed in the middle of a range: the range is redone, the outputs are the same', async () => {
    let killed = 0;
    const run = await sharded(name, 2, (index, pid) => {
      if (index === 1 && killed === 0) {
        killed = pid;
        process.kill(pid, 'SIGKILL');
      }
    });
    expect(killed).toBeGreaterThan(0);
    expect(run.predictions.equals(reference.predictions)).toBe(true);
    expect(run.errors.equals(reference.errors)).toBe(true);
    expect(run.manifest.rows).toEqual(reference.rows);
    expect(run.outFolder).toEqual(outputNames(name));
  }, 120_000);

  it('a worker that hangs in a range is killed at the range timeout and the range redone: the outputs are the same', async () => {
    let hung = 0;
    const run = await sharded(
      name,
      2,
      (index, pid) => {
        if (index === 1 && hung === 0) {
          hung = pid;
          process.kill(pid, 'SIGSTOP'); // alive, holding its range, doing nothing
        }
      },
      '4',
    );
    expect(hung).toBeGreaterThan(0);
    expect(() => process.kill(hung, 0)).toThrow(); // killed, not left stopped
    expect(run.predictions.equals(reference.predictions)).toBe(true);
    expect(run.errors.equals(reference.errors)).toBe(true);
    expect(run.manifest.rows).toEqual(reference.rows);
    expect(run.outFolder).toEqual(outputNames(name));
  }, 120_000);
});

describe('a range that fails every time it is tried ends the run (no worker after worker)', () => {
  it.each([
    ['dies', 'SIGKILL', undefined, /range 2 \(bytes \d+-\d+\) failed 3 times: its worker exited \(SIGKILL\) the last time/],
    ['hangs', 'SIGSTOP', '4', /range 2 \(bytes \d+-\d+\) failed 3 times: its worker ran past the range timeout \(4 s\) the last time/],
  ] as const)(
    'its worker %s: after 3 attempts, a failed manifest and nothing else',
    async (_how, signal, rangeTimeout, message) => {
      const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
      const tried: number[] = [];
      const run = batch(app.services, path.join(dir, 'flowers.csv'), {
        model: 'iris',
        workers: '2',
        out,
        rangeBytes: '12000',
        rangeTimeout,
        onRangeStart: (index, pid) => {
          if (index !== 2) return;
          tried.push(pid);
          process.kill(pid, signal);
        },
      });
      await expect(run).rejects.toThrow(message);
      expect(new Set(tried).size).toBe(3);
      for (const pid of tried) expect(() => process.kill(pid, 0)).toThrow();
      expect(JSON.parse(await readFile(path.join(out, 'flowers.csv.manifest.json'), 'utf8'))).toMatchObject({ status: 'failed', error: expect.stringMatching(message) });
      expect(await readdir(out)).toEqual(['flowers.csv.manifest.json']);
    },
    120_000,
  );
});

/** runLocally's options for flowers.csv into a fresh output folder (workers and the worker script are the test's). */
async function localRun(): Promise<{ options: Omit<LocalRunOptions, 'workers' | 'workerScript'>; out: string }> {
  const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
  const source = pathToFileURL(dir).href;
  const input = { key: 'flowers.csv', ref: parseModelRef('iris'), format: 'csv' as const, relative: 'flowers.csv' };
  const options = {
    io: { source: app.services.openStore(source), output: app.services.openStore(pathToFileURL(out).href) },
    sourceUri: source,
    outputUri: pathToFileURL(out).href,
    input,
    outputs: outputsFor(input, ''),
    outputPrefix: '',
    ref: input.ref,
    loader: app.services.loader,
    targetBytes: 12_000,
  };
  return { options, out };
}

it('a worker that cannot start fails the run with a clear error (it is not replaced forever)', async () => {
  const script = path.join(dir, 'broken-worker.mjs');
  await writeFile(script, 'process.exit(3);\n');
  const { options } = await localRun();
  const run = runLocally({ ...options, workers: 2, workerScript: script });
  await expect(run).rejects.toThrow(/a batch worker exited before it was ready \(code 3\)/);
  // modelctl prints a ServiceError as one line; anything else as a bug in modelctl, with its stack.
  await expect(run).rejects.toBeInstanceOf(ServiceError);
}, 60_000);

it('a worker that dies after it is ready but before the plan is read: its replacement scores, the outputs are the same', async () => {
  const worker = await buildWorker(path.resolve('cli/batchWorker.ts'), path.resolve('.'));
  const marker = path.join(dir, `first-worker-${Date.now()}`);
  // The first worker to start says it is ready and dies 100 ms later; the others are real workers.
  const script = path.join(dir, 'dies-once-worker.mjs');
  await writeFile(
    script,
    [
      "import { existsSync, writeFileSync } from 'node:fs';",
      'if (existsSync(process.env.MARKER)) await import(process.env.REAL_WORKER);',
      "else { writeFileSync(process.env.MARKER, ''); process.send({ type: 'ready' }); setTimeout(() => process.exit(0), 100); }",
    ].join('\n'),
  );
  const { options, out } = await localRun();
  const sourceStore = options.io.source;
  // The plan is read slowly (1 s before the file opens), so the first worker dies while it is read.
  const slow = Object.create(sourceStore) as typeof sourceStore;
  slow.getStream = async (...args: Parameters<typeof sourceStore.getStream>) => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return sourceStore.getStream(...args);
  };
  try {
    const manifest = await runLocally({
      ...options,
      io: { ...options.io, source: slow },
      workers: 1,
      workerScript: script,
      env: { ...process.env, MARKER: marker, REAL_WORKER: pathToFileURL(worker.script).href, MODEL_STORE_URI: 'file://models' },
    });
    const reference = await single('flowers.csv', await readFile(path.join(dir, 'flowers.csv'), 'utf8'));
    expect(manifest.status).toBe('succeeded');
    expect(await readFile(path.join(out, 'flowers.csv.predictions.csv'))).toEqual(reference.predictions);
    expect(manifest.rows).toEqual(reference.rows);
  } finally {
    await worker.remove();
  }
}, 120_000);

it('an unknown model fails the run before any worker starts, naming the model', async () => {
  const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
  let started = 0;
  await expect(
    batch(app.services, path.join(dir, 'flowers.csv'), { model: 'no-such-model', workers: '2', out, rangeBytes: '12000', onRangeStart: () => (started += 1) }),
  ).rejects.toThrow(/no-such-model/);
  expect(started).toBe(0);
});

it('a model that cannot be loaded (its weights cut short) fails the run: the workers load it, not the planner; the manifest says the version is damaged, as through one function', async () => {
  const models = await mkdtemp(path.join(tmpdir(), 'sharded-models-'));
  await cp('models/iris', path.join(models, 'iris'), { recursive: true });
  const weights = path.join(models, 'iris/versions/1/weights.bin');
  await writeFile(weights, (await readFile(weights)).subarray(0, 16));
  const broken = serving(pathToFileURL(models).href);
  const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
  const run = batch(broken.services, path.join(dir, 'flowers.csv'), { model: 'iris', workers: '2', out, rangeBytes: '12000' });
  await expect(run).rejects.toThrow(/range \d+: iris:1: weights.bin does not match its sha256/);
  await expect(run).rejects.toBeInstanceOf(IntegrityError);
  const manifest = JSON.parse(await readFile(path.join(out, 'flowers.csv.manifest.json'), 'utf8'));
  expect(manifest).toMatchObject({ status: 'failed', error: DAMAGED_VERSION });
  expect(await readdir(out)).toEqual(['flowers.csv.manifest.json']);
}, 60_000);

it('a file that fails in a later range ends as the run through one function does: the same failed manifest, and nothing else left', async () => {
  // A record cut short near the end: the whole file fails (as malformed CSV does through one function), found by a worker after others have scored their ranges.
  const body = `${await flowersCsv()}5.1,3.5\n`;
  await writeFile(path.join(dir, 'cut.csv'), body);
  await store.put('batch/input/iris/cut.csv', body);
  const reference = await scoreObject(store, app.services.loader, 'batch/input/iris/cut.csv', oneInvocation(64));
  expect(reference.manifest).toMatchObject({ status: 'failed', error: expect.stringMatching(/malformed/) });
  const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
  await expect(batch(app.services, path.join(dir, 'cut.csv'), { model: 'iris', workers: '2', out, rangeBytes: '12000' })).rejects.toThrow(reference.manifest?.error as string);
  const manifest = JSON.parse(await readFile(path.join(out, 'cut.csv.manifest.json'), 'utf8'));
  expect(manifest).toMatchObject({ status: 'failed', error: reference.manifest?.error, model: { name: 'iris', version: 1 } });
  const files = (await readdir(out, { withFileTypes: true, recursive: true })).filter((entry) => entry.isFile()).map((entry) => entry.name);
  expect(files).toEqual(['cut.csv.manifest.json']);
  expect(await readdir(out)).toEqual(['cut.csv.manifest.json']);
}, 120_000);

it('a failed rerun into the folder of a finished run leaves that run as it was and none of its own parts', async () => {
  const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
  const options = { workers: '2', out, rangeBytes: '12000' };
  expect((await batch(app.services, path.join(dir, 'flowers.csv'), { ...options, model: 'iris' })).status).toBe('succeeded');
  const before = await readFile(path.join(out, 'flowers.csv.manifest.json'), 'utf8');

  await expect(batch(app.services, path.join(dir, 'flowers.csv'), { ...options, model: 'iris:99' })).rejects.toThrow(/99/);

  expect((await readdir(out)).sort()).toEqual(['flowers.csv.errors.jsonl', 'flowers.csv.manifest.json', 'flowers.csv.predictions.csv']);
  expect(await readFile(path.join(out, 'flowers.csv.manifest.json'), 'utf8')).toBe(before);
}, 120_000);

/**
 * What `modelctl batch` leaves in --out when it is interrupted (Ctrl-C): the plan of its ranges,
 * the parts and results of those its workers finished, and a temporary upload of a part one was
 * writing, and the join's temporary file beside the outputs. Made here by the worker's own code (planRanges, scoreRange) for a run of `workers`
 * workers at `rangeBytes`; `scored` picks the ranges it finished.
 */
async function interruptedRun(name: string, out: string, rangeBytes: number, workers: number, scored: (index: number, count: number) => boolean): Promise<number> {
  const input = { key: name, ref: parseModelRef('iris'), format: name.endsWith('.csv') ? ('csv' as const) : ('jsonl' as const), relative: name };
  const io = { source: app.services.openStore(pathToFileURL(dir).href), output: app.services.openStore(pathToFileURL(out).href) };
  const source = await io.source.head(name);
  if (!source) throw new Error(`no ${name}`);
  const model = { name: 'iris', version: await app.services.loader.resolve(input.ref) };
  const etag = source.etag ?? String(source.size);
  const outputs = shardOutputsFor(outputsFor(input, ''), etag);
  const plan = {
    ...(await planRanges(io.source, { key: name, etag, size: source.size, format: input.format, model, targetBytes: rangeBytes, workers })),
    startedAt: new Date().toISOString(),
  };
  await io.output.put(outputs.plan, JSON.stringify(plan));
  const done = plan.ranges.filter((range) => scored(range.index, plan.ranges.length));
  for (const range of done) await scoreRange(io, app.services.loader, input, outputs, plan, range, oneInvocation(64).limits);
  const writing = plan.ranges.find((range) => !done.includes(range));
  if (writing) await writeFile(path.join(out, `${outputs.part(writing.index, 'predictions')}.${randomUUID()}.tmp-upload`), 'half a part');
  // The join had begun copying the finished parts into the outputs: its temporary file is beside them, not under the parts.
  await writeFile(path.join(out, `${outputs.predictions}.${randomUUID()}.tmp-upload`), 'the first parts, joined');
  return plan.ranges.length;
}

describe('a rerun into the folder of an interrupted run: the outputs of a clean run, byte for byte, and nothing of either run left', () => {
  let reference: Awaited<ReturnType<typeof single>>;
  beforeAll(async () => {
    reference = await single('flowers.csv', await readFile(path.join(dir, 'flowers.csv'), 'utf8'));
  });

  it.each([
    // The earlier run cut the file into smaller ranges: its first parts are fewer rows than this run's ranges of those numbers.
    ['--range-bytes 5000, its first 5 ranges scored', 5000, 1, (index: number) => index < 5],
    // Into much larger ones: its part 0 is 10 bytes' worth of rows where this run's range 0 is the whole file.
    ['--range-bytes 10, its first 2 ranges scored', 10, 1, (index: number) => index < 2],
    // Every range but the last: the rerun's last ranges are of other numbers and bytes.
    ['--range-bytes 3000, all but its last range scored', 3000, 2, (index: number, count: number) => index < count - 1],
  ] as const)(
    'interrupted at %s, rerun at --range-bytes 12000',
    async (_what, rangeBytes, workers, scored) => {
      const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
      expect(await interruptedRun('flowers.csv', out, rangeBytes, workers, scored)).toBeGreaterThan(5);
      const run = await sharded('flowers.csv', 2, undefined, undefined, '12000', out);
      expect(run.manifest.status).toBe('succeeded');
      expect(run.manifest.rows).toEqual(reference.rows);
      expect(run.predictions.equals(reference.predictions)).toBe(true);
      expect(run.errors.equals(reference.errors)).toBe(true);
      expect(run.outFolder).toEqual(outputNames('flowers.csv'));
    },
    120_000,
  );

  it('interrupted with 2 workers (the last ranges shrink), rerun with 1 (they do not): the outputs of a clean run', async () => {
    // Ranges shrink only down to 1 MiB, so this file is 2.5 MiB of iris rows, at ranges of 1.25 MiB:
    // with 2 workers the ranges are cut at 1 and 2 MiB, with one at 1.25 MiB.
    const rows = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
    const lines = [rows[0]];
    for (let bytes = 0, i = 0; bytes < 2.5 * 2 ** 20; i += 1) {
      const row = rows[1 + (i % (rows.length - 1))];
      lines.push(row);
      bytes += row.length + 1;
    }
    const body = `${lines.join('\n')}\n`;
    await writeFile(path.join(dir, 'many.csv'), body);
    const clean = await single('many.csv', body);
    const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
    const rangeBytes = 1.25 * 2 ** 20;
    expect(await interruptedRun('many.csv', out, rangeBytes, 2, (index) => index < 2)).toBe(3);
    const run = await sharded('many.csv', 1, undefined, undefined, String(rangeBytes), out);
    expect(run.manifest.rows).toEqual(clean.rows);
    expect(run.manifest.rows.read).toBe(lines.length - 1);
    expect(run.predictions.equals(clean.predictions)).toBe(true);
    expect(run.outFolder).toEqual(outputNames('many.csv'));
  }, 120_000);
});

describe('a range is skipped only when its recorded result is of exactly that range (the state machine redrives the same plan)', () => {
  let shards: FolderStore;
  const key = 'batch/input/iris/redrive.csv';
  const input = parseInputKey(key);
  let outputs: ShardOutputs;
  beforeAll(async () => {
    shards = await tempFolderStore();
    await shards.put(key, await readFile(path.join(dir, 'flowers.csv')));
    const source = await shards.head(key);
    outputs = shardOutputsFor(outputsFor(input), source?.etag ?? '');
  });
  async function planAt(targetBytes: number) {
    const source = await shards.head(key);
    if (!source) throw new Error(`no ${key}`);
    const model = { name: 'iris', version: await app.services.loader.resolve(input.ref) };
    const etag = source.etag ?? String(source.size);
    return { ...(await planRanges(shards, { key, etag, size: source.size, format: 'csv', model, targetBytes })), startedAt: new Date().toISOString() };
  }
  const io = () => ({ source: shards, output: shards });
  const score = (plan: Awaited<ReturnType<typeof planAt>>, index: number) =>
    scoreRange(io(), app.services.loader, input, outputs, plan, plan.ranges[index], oneInvocation(64).limits);

  it('the same plan: a scored range is not scored again; another plan cutting the file elsewhere scores its range of that number again', async () => {
    const plan = await planAt(12_000);
    const first = await score(plan, 1);
    // A marker in place of the part: still there if the range is not scored again.
    await shards.put(outputs.part(1, 'predictions'), 'marker');
    expect(await score(plan, 1)).toEqual(first);
    expect(Buffer.from(await shards.get(outputs.part(1, 'predictions'))).toString()).toBe('marker');

    const other = await planAt(5_000);
    const second = await score(other, 1);
    expect(second).toMatchObject({ index: 1, start: other.ranges[1].start, end: other.ranges[1].end });
    expect(second.rows.read).toBeLessThan(first.rows.read);
    expect(Buffer.from(await shards.get(outputs.part(1, 'predictions'))).toString()).not.toBe('marker');
    // The first plan's join now finds range 1 scored by another plan: it refuses rather than join it.
    await expect(joinRanges(io(), input, outputs, plan)).rejects.toThrow(/range 0 .* has not been scored by this plan/);
    for (const range of plan.ranges) if (range.index !== 1) await score(plan, range.index);
    await expect(joinRanges(io(), input, outputs, plan)).rejects.toThrow(/range 1 \(bytes \d+-\d+\) of .* has not been scored by this plan/);
    await removeParts(shards, outputs);
  });

  it('a range cut short between its parts and its result (killed): the earlier result of that number does not vouch for the new parts', async () => {
    const plan = await planAt(12_000);
    await score(plan, 1);
    const other = await planAt(5_000);
    // The other plan's range 1 is scored up to its result, which is never written (the process is killed there).
    const killedAtResult = Object.create(shards) as FolderStore;
    killedAtResult.put = async (k, body, options) => {
      if (k === outputs.rangeResult(1)) throw new Error('killed');
      return shards.put(k, body, options);
    };
    await expect(scoreRange({ source: shards, output: killedAtResult }, app.services.loader, input, outputs, other, other.ranges[1], oneInvocation(64).limits)).rejects.toThrow(
      'killed',
    );
    // The first plan again: its range 1 is scored again, not taken from parts that now hold the other plan's bytes.
    for (const range of plan.ranges) await score(plan, range.index);
    const manifest = await joinRanges(io(), input, outputs, plan);
    const reference = await single('flowers.csv', await readFile(path.join(dir, 'flowers.csv'), 'utf8'));
    expect(manifest.rows).toEqual(reference.rows);
    expect(Buffer.from(await shards.get('batch/output/iris/redrive.csv.predictions.csv')).equals(reference.predictions)).toBe(true);
  });
});

describe("a range of a run for an earlier upload of the same key, whose part lands after the new upload's range was scored", () => {
  it("lands in its own version's parts folder: the new run joins the new file's rows", async () => {
    const key = 'batch/input/iris/replaced.csv';
    const input = parseInputKey(key);
    const oldBody = await readFile(path.join(dir, 'flowers.csv'), 'utf8');
    // The same bytes cut at the same places, but every unquoted note changed: the rows of the two versions differ.
    const newBody = oldBody.replaceAll(',n', ',m');
    expect(newBody).not.toBe(oldBody);
    const reference = await single('replaced.csv', newBody);
    // The earlier upload, as its range read it before the key was replaced, and the bucket, which now holds the new one.
    const earlier = await tempFolderStore();
    const shards = await tempFolderStore();
    await earlier.put(key, oldBody);
    await shards.put(key, newBody);
    const model = { name: 'iris', version: await app.services.loader.resolve(input.ref) };
    const planOf = async (from: FolderStore) => {
      const source = await from.head(key);
      if (!source?.etag) throw new Error(`no ${key}`);
      return { ...(await planRanges(from, { key, etag: source.etag, size: source.size, format: 'csv', model, targetBytes: 12_000 })), startedAt: new Date().toISOString() };
    };
    const [oldPlan, newPlan] = [await planOf(earlier), await planOf(shards)];
    expect(oldPlan.etag).not.toBe(newPlan.etag);
    const [oldOutputs, newOutputs] = [oldPlan, newPlan].map((plan) => shardOutputsFor(outputsFor(input), plan.etag));
    const limits = oneInvocation(64).limits;
    // The old range is killed after its part and before its result; what it wrote lands in the bucket
    // only now, after the new run scored every range (its range 1 wrote its part and result).
    const scratch = await tempFolderStore();
    const killedAtResult = Object.create(scratch) as FolderStore;
    killedAtResult.put = async (k, body, options) => {
      if (k === oldOutputs.rangeResult(1)) throw new Error('killed');
      return scratch.put(k, body, options);
    };
    await expect(scoreRange({ source: earlier, output: killedAtResult }, app.services.loader, input, oldOutputs, oldPlan, oldPlan.ranges[1], limits)).rejects.toThrow('killed');
    for (const range of newPlan.ranges) await scoreRange({ source: shards, output: shards }, app.services.loader, input, newOutputs, newPlan, range, limits);
    const landed: string[] = [];
    for await (const object of listAll(scratch, '')) {
      await shards.put(object.key, await scratch.get(object.key));
      landed.push(object.key);
    }
    expect(landed).toContain(oldOutputs.part(1, 'predictions'));
    const manifest = await joinRanges({ source: shards, output: shards }, input, newOutputs, newPlan);
    expect(manifest.rows).toEqual(reference.rows);
    expect(Buffer.from(await shards.get('batch/output/iris/replaced.csv.predictions.csv')).equals(reference.predictions)).toBe(true);
    expect(Buffer.from(await shards.get('batch/output/iris/replaced.csv.errors.jsonl')).equals(reference.errors)).toBe(true);
  });
});

describe('CSVs whose quotes a planner could misread: cut at every range size from 1 to 60 bytes, the outputs of the run through one function', () => {
  const header = 'sepal_length,sepal_width,petal_length,petal_width,note';
  const FILES: Record<string, string> = {
    // The user's file: a stray quote before a quoted newline.
    'stray.csv': `${header}\n5.1,3.5,1.4,0.2,27" monitor\n6.7,3.0,5.2,2.3,a\n5.0,3.4,1.5,0.2,"two\nlines"\n6.3,3.3,6.0,2.5,b\n`,
    'quotes.csv': [
      header,
      '5.1,3.5,1.4,0.2,a"b',
      '4.9,3.0,1.4,0.2,"say ""hi""',
      'twice"',
      'x,3.0,5.2,2.3,"bad, ""row""\n"',
      '',
      '6.7,3.0,5.2,2.3,"spaced"  ',
      '6.3,3.3,6.0,2.5, "not quoted"',
      '5.0,3.4,1.5,0.2,"""',
      '"',
      '5.9,3.0,"5.1"\t,1.8,end"',
      '',
    ].join('\n'),
    'crlf-bom.csv': `\uFEFF"sepal_length","sepal_width","petal_length","petal_width","note"\r\n5.1,3.5,1.4,0.2,"a\r\nb"\r\n\r\n6.7,3.0,5.2,2.3,c"\r\n5.0,y,1.5,0.2,"d\r"\r\n6.3,3.3,6.0,2.5,e\r\n`,
    'header-quote.csv': 'sepal_length,sepal_width,petal_length,petal_width,no"te\n5.1,3.5,1.4,0.2,a\n6.7,3.0,5.2,2.3,"b\n"\n',
    'bom-quoted.csv': '\uFEFF"sepal_length","sepal_width","petal_length","petal_width","species"\n5.1,3.5,1.4,0.2,"setosa"\n6.3,3.3,6.0,2.5,"virginica"\n',
    // Blank lines before the header (the reader skips them): a range that ends among them must not leave the header to a range read as rows.
    // Names padded with spaces: every range reads them trimmed, the first from the file, the others from the plan.
    'padded.csv': ` sepal_length , sepal_width,petal_length,petal_width, note\n5.1,3.5,1.4,0.2,a\n6.7,3.0,5.2,2.3,"b\n"\n`,
    'blank-first.csv': `\n\r\n""\n${header}\r\n5.1,3.5,1.4,0.2,a\n\n6.7,3.0,5.2,2.3,b\n`,
  };
  /** Refused by the run through one function: the sharded run must refuse them in the same words. */
  const REFUSED: Record<string, string> = {
    'mac.csv': 'sepal_length,sepal_width,petal_length,petal_width\r5.1,3.5,1.4,0.2\rx,3.0,5.2,2.3\r6.7,3.0,5.2,2.3\ry,1,1,1\r',
    'trailing.csv': `${header}\n5.1,3.5,1.4,0.2,a\n6.7,3.0,5.2,2.3,"b"c\n5.0,3.4,1.5,0.2,"d"\n6.3,3.3,6.0,2.5,e\n`,
  };
  let shards: FolderStore;
  beforeAll(async () => {
    shards = await tempFolderStore();
  });

  /** The sharded run in this process, as the state machine's tasks run it: the plan, each range, the join (or the first range's refusal). */
  async function inProcess(name: string, rangeBytes: number) {
    const key = `batch/input/iris/${name}`;
    const input = parseInputKey(key);
    const io = { source: shards, output: shards };
    const source = await shards.head(key);
    if (!source) throw new Error(`no ${key}`);
    const model = { name: 'iris', version: await app.services.loader.resolve(parseModelRef('iris')) };
    const etag = source.etag ?? String(source.size);
    const outputs = shardOutputsFor(outputsFor(input), etag);
    try {
      const plan = { ...(await planRanges(shards, { key, etag, size: source.size, format: 'csv', model, targetBytes: rangeBytes })), startedAt: new Date().toISOString() };
      for (const range of plan.ranges) await scoreRange(io, app.services.loader, input, outputs, plan, range, oneInvocation(64).limits);
      const manifest = await joinRanges(io, input, outputs, plan);
      const base = `batch/output/iris/${name}`;
      return {
        predictions: Buffer.from(await shards.get(`${base}.predictions.csv`)),
        errors: Buffer.from(await shards.get(`${base}.errors.jsonl`)),
        rows: manifest.rows,
        ranges: plan.ranges.length,
      };
    } catch (error) {
      // What a refused range left (other ranges' counts) must not count as scored in the next run.
      await removeParts(shards, outputs);
      return { refused: (error as Error).message };
    }
  }

  it.each(Object.keys(FILES))(
    '%s',
    async (name) => {
      const reference = await single(name, FILES[name]);
      await shards.put(`batch/input/iris/${name}`, FILES[name]);
      for (let rangeBytes = 1; rangeBytes <= 60; rangeBytes += 1) {
        const run = await inProcess(name, rangeBytes);
        expect(run, `range bytes ${rangeBytes}`).toEqual({ ...reference, ranges: expect.any(Number) });
        if (rangeBytes === 1) expect(run.ranges).toBeGreaterThanOrEqual(3); // one a record
      }
    },
    120_000,
  );

  it.each(Object.keys(REFUSED))(
    '%s, refused through one function, is refused at every range size in the same words',
    async (name) => {
      await store.put(`batch/input/iris/${name}`, REFUSED[name]);
      const reference = await scoreObject(store, app.services.loader, `batch/input/iris/${name}`, oneInvocation(64));
      expect(reference.manifest?.status).toBe('failed');
      await shards.put(`batch/input/iris/${name}`, REFUSED[name]);
      for (let rangeBytes = 1; rangeBytes <= 60; rangeBytes += 1)
        expect(await inProcess(name, rangeBytes), `range bytes ${rangeBytes}`).toEqual({ refused: reference.manifest?.error });
    },
    120_000,
  );

  it('modelctl batch, with worker processes, at --range-bytes 1 and without: the same outputs; a header it cannot plan is a failed manifest naming it', async () => {
    for (const name of ['stray.csv', 'header-quote.csv']) {
      await writeFile(path.join(dir, name), FILES[name]);
      const reference = await single(name, FILES[name]);
      for (const rangeBytes of ['1', undefined]) {
        const run = await sharded(name, 1, undefined, undefined, rangeBytes);
        expect(run.manifest.status).toBe('succeeded');
        expect(run.predictions.equals(reference.predictions)).toBe(true);
        expect(run.errors.equals(reference.errors)).toBe(true);
        expect(run.manifest.rows).toEqual(reference.rows);
      }
    }
    await writeFile(path.join(dir, 'mac.csv'), REFUSED['mac.csv']);
    const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
    await expect(batch(app.services, path.join(dir, 'mac.csv'), { model: 'iris', workers: '1', out, rangeBytes: '1' })).rejects.toThrow(/CR-only line breaks/);
    expect(JSON.parse(await readFile(path.join(out, 'mac.csv.manifest.json'), 'utf8'))).toMatchObject({ status: 'failed', error: expect.stringMatching(/CR-only line breaks/) });
  }, 120_000);
});

describe('a range the store fails (a dropped connection past the SDK retries) is tried again after a pause, as Step Functions retries it', () => {
  /** Workers whose range 1 is answered `failed` by the store `times` times (counted in a file), the rest scored by real workers. */
  async function storeFailingWorker(times: number) {
    const worker = await buildWorker(path.resolve('cli/batchWorker.ts'), path.resolve('.'));
    const counter = path.join(dir, `store-failures-${randomUUID()}`);
    const script = path.join(dir, `store-failing-worker-${randomUUID()}.mjs`);
    await writeFile(
      script,
      [
        "import { existsSync, readFileSync, writeFileSync } from 'node:fs';",
        'const on = process.on.bind(process);',
        "process.on = (event, handler) => on(event, event !== 'message' ? handler : (task) => {",
        "  const failed = existsSync(process.env.COUNTER) ? Number(readFileSync(process.env.COUNTER, 'utf8')) : 0;",
        '  if (task.range.index !== 1 || failed >= Number(process.env.TIMES)) return handler(task);',
        '  writeFileSync(process.env.COUNTER, String(failed + 1));',
        "  process.send({ type: 'failed', index: 1, error: 'socket hang up', kind: 'store' });",
        '});',
        'await import(process.env.REAL_WORKER);',
      ].join('\n'),
    );
    const env = { ...process.env, COUNTER: counter, TIMES: String(times), REAL_WORKER: pathToFileURL(worker.script).href, MODEL_STORE_URI: 'file://models' };
    const failures = async () => Number(await readFile(counter, 'utf8'));
    return { script, env, failures, remove: () => worker.remove() };
  }

  it('failed twice, then scored: the outputs of the run through one function', async () => {
    const worker = await storeFailingWorker(2);
    const { options, out } = await localRun();
    try {
      const manifest = await runLocally({ ...options, workers: 2, workerScript: worker.script, env: worker.env });
      const reference = await single('flowers.csv', await readFile(path.join(dir, 'flowers.csv'), 'utf8'));
      expect(await worker.failures()).toBe(2);
      expect(manifest.status).toBe('succeeded');
      expect(await readFile(path.join(out, 'flowers.csv.predictions.csv'))).toEqual(reference.predictions);
      expect(await readFile(path.join(out, 'flowers.csv.errors.jsonl'))).toEqual(reference.errors);
      expect(manifest.rows).toEqual(reference.rows);
    } finally {
      await worker.remove();
    }
  }, 120_000);

  it('failed every time: the run fails after 3 attempts, saying a rerun resumes', async () => {
    const worker = await storeFailingWorker(99);
    const { options } = await localRun();
    try {
      const run = runLocally({ ...options, workers: 2, workerScript: worker.script, env: worker.env });
      await expect(run).rejects.toThrow(/^range 1 failed 3 times, the last because the store failed \(socket hang up\): run the same command again: it resumes/);
      expect(await worker.failures()).toBe(3);
    } finally {
      await worker.remove();
    }
  }, 120_000);
});

it('what a worker reports as the store failing (tried again) and as not (the run fails)', () => {
  const sdk = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  expect(failureKind(sdk('SlowDown', 503))).toBe('store');
  expect(failureKind(sdk('InternalError', 500))).toBe('store');
  expect(failureKind(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' }))).toBe('store');
  expect(failureKind(new UnavailableError('the model store could not be read'))).toBe('store');
  expect(failureKind(sdk('AccessDenied', 403))).toBe('internal');
  expect(failureKind(new Error('a bug'))).toBe('internal');
  expect(failureKind(new BadRequestError('a bad row'))).toBe('client');
});

it('two runs into the same --out at once: one scores, the other is refused naming the run that holds it, and the outputs are those of one run', async () => {
  const out = await mkdtemp(path.join(tmpdir(), 'sharded-out-'));
  const reference = await single('flowers.csv', await readFile(path.join(dir, 'flowers.csv'), 'utf8'));
  const runs = await Promise.allSettled([sharded('flowers.csv', 2, undefined, undefined, '12000', out), sharded('flowers.csv', 2, undefined, undefined, '12000', out)]);
  const [won, lost] = runs[0].status === 'fulfilled' ? runs : [runs[1], runs[0]];
  expect(won.status).toBe('fulfilled');
  expect(lost.status).toBe('rejected');
  const refusal = (lost as PromiseRejectedResult).reason;
  expect(refusal).toBeInstanceOf(ConflictError);
  expect(refusal.message).toMatch(
    new RegExp(
      `^another run is writing the outputs of flowers\\.csv in file://.* \\(modelctl batch, process ${process.pid} on .*, started .*; held until .* unless it renews\\): wait for it to end, or write into another --out$`,
    ),
  );
  const run = (won as PromiseFulfilledResult<Awaited<ReturnType<typeof sharded>>>).value;
  expect(run.manifest.status).toBe('succeeded');
  expect(run.predictions.equals(reference.predictions)).toBe(true);
  expect(run.errors.equals(reference.errors)).toBe(true);
  // The claim let go with the run: nothing but the outputs, and a run now goes ahead.
  expect(run.outFolder).toEqual(outputNames('flowers.csv'));
  expect((await sharded('flowers.csv', 1, undefined, undefined, '12000', out)).manifest.status).toBe('succeeded');
}, 180_000);
