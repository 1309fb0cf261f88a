import { randomUUID } from 'node:crypto';
import { cp, utimes } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreObject } from '../../lib/batch/run.js';
import { ABANDONED_AFTER_MS } from '../../lib/batch/abandoned.js';
import { outputsFor, parseInputKey, runFiles } from '../../lib/batch/paths.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import type { BatchManifest } from '../../lib/batch/state.js';
import { listAll, type ObjectStore } from '../../lib/store/index.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeLayersModel } from '../helpers/tinyModels.js';
import { localLimits } from '../../lib/runtime/memory.js';
import { oneInvocation } from '../helpers/batchOptions.js';

let app: App;

const HEADER = 'sepal_length,sepal_width,petal_length,petal_width';
const IRIS = [
  [5.1, 3.5, 1.4, 0.2, 'setosa'],
  [6.7, 3.0, 5.2, 2.3, 'virginica'],
  [5.9, 3.0, 4.2, 1.5, 'versicolor'],
  [4.9, 3.0, 1.4, 0.2, 'setosa'],
  [6.3, 3.3, 6.0, 2.5, 'virginica'],
] as const;
const csv = (rows: readonly (readonly (string | number)[])[]) => `${[HEADER, ...rows.map((r) => r.slice(0, 4).join(','))].join('\n')}\n`;
const text = async (store: ObjectStore, key: string) => new TextDecoder().decode(await store.get(key));
const manifestOf = async (store: ObjectStore, key: string) => JSON.parse(await text(store, key)) as BatchManifest;
async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listAll(store, prefix)) keys.push(object.key);
  return keys.sort();
}

function putEvent(key: string, bucket = 'b'): S3Event {
  return { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/') } } }] } as unknown as S3Event;
}

let folder: ObjectStore;
beforeAll(async () => {
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  folder = store;
  app = serving(store.uri);
});

describe('a raw model (no input transform)', () => {
  it("takes a CSV `instance` column holding the row as JSON, with the JSON Lines file's labels; a cell that is not a row is a bad row", async () => {
    await pushModelFolder(folder, await writeLayersModel(), 'raw', { labels: ['a', 'b', 'c'] });
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.0, 5.2, 2.3],
      [-1, 0.5, 2, 8],
    ];
    await folder.put('batch/input/raw/rows.jsonl', rows.map((r) => JSON.stringify({ instance: r })).join('\n'));
    await folder.put('batch/input/raw/rows.csv', `id,instance\n${rows.map((r, i) => `${i},"${JSON.stringify(r)}"`).join('\n')}\n3,"[1,2"\n`);
    const outcomes = (await app.batchScore({ Records: [...putEvent('batch/input/raw/rows.jsonl').Records, ...putEvent('batch/input/raw/rows.csv').Records] } as S3Event)) as {
      status: string;
    }[];
    expect(
      outcomes.map((o) => o.status),
      JSON.stringify(outcomes),
    ).toEqual(['succeeded', 'succeeded']);
    const fromJsonl = (await text(folder, 'batch/output/raw/rows.jsonl.predictions.jsonl'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).label);
    const fromCsv = (await text(folder, 'batch/output/raw/rows.csv.predictions.csv'))
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(',').at(-2));
    expect(fromJsonl).toHaveLength(3);
    expect(fromCsv).toEqual(fromJsonl);
    const errors = (await text(folder, 'batch/output/raw/rows.csv.errors.jsonl')).trim().split('\n');
    expect(errors.map((line) => JSON.parse(line).line)).toEqual([5]);
  });
});

describe('batch scoring on the folder store', () => {
  it('writes a label per row, the bad rows to the error file with their line, and the manifest last', async () => {
    const rows = [...IRIS.slice(0, 2), ['x', 3, 5, 2, ''], ...IRIS.slice(2)];
    await folder.put('batch/input/iris/mixed.csv', csv(rows));
    const [outcome] = (await app.batchScore(putEvent('batch/input/iris/mixed.csv'))) as { status: string }[];
    expect(outcome.status).toBe('succeeded');
    const predictions = (await text(folder, 'batch/output/iris/mixed.csv.predictions.csv')).trim().split('\n');
    expect(predictions[0]).toBe(`${HEADER},label,score`);
    expect(predictions.slice(1).map((line) => line.split(',')[4])).toEqual(IRIS.map((r) => r[4]));
    expect(predictions[1].startsWith('5.1,3.5,1.4,0.2,')).toBe(true); // original text kept
    const errors = (await text(folder, 'batch/output/iris/mixed.csv.errors.jsonl'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(errors).toEqual([{ line: 4, error: expect.stringMatching(/^sepal_length must be a finite number, got "x"/) }]);
    const manifest = await manifestOf(folder, 'batch/output/iris/mixed.csv.manifest.json');
    expect(manifest).toMatchObject({ status: 'succeeded', model: { name: 'iris', version: 1 }, rows: { read: 6, scored: 5, failed: 1 }, invocations: 1 });
    expect(manifest.source.etag).toBe((await folder.head('batch/input/iris/mixed.csv'))!.etag);
  });

  it("an upload whose key names no model gets a failed manifest naming the problem, and does not stop the event's other files", async () => {
    const bad = ['batch/input/loose.csv', 'batch/input/IRIS/a.csv', 'batch/input/iris:abc/a.csv'];
    for (const key of [...bad, 'batch/input/iris/after-bad.csv']) await folder.put(key, csv(IRIS));
    const event = { Records: [...bad, 'batch/input/iris/after-bad.csv'].flatMap((key) => putEvent(key).Records) } as S3Event;
    const outcomes = (await app.batchScore(event)) as { status: string }[];
    expect(outcomes.map((o) => o.status)).toEqual(['failed', 'failed', 'failed', 'succeeded']);
    expect(await manifestOf(folder, 'batch/output/loose.csv.manifest.json')).toMatchObject({
      status: 'failed',
      source: { key: 'batch/input/loose.csv' },
      error: expect.stringMatching(/batch\/input\/loose\.csv: expected batch\/input\/\{model\}\[@alias\|:version\]\/\{file\}/),
    });
    expect((await manifestOf(folder, 'batch/output/IRIS/a.csv.manifest.json')).error).toMatch(/IRIS/);
    expect((await manifestOf(folder, 'batch/output/iris:abc/a.csv.manifest.json')).error).toMatch(/abc/);
    expect((await manifestOf(folder, 'batch/output/iris/after-bad.csv.manifest.json')).status).toBe('succeeded');
  });

  it("an upload whose key holds '..' is skipped (it has no place for a manifest), and the event's other files are scored", async () => {
    // The folder store refuses a key that would leave its root: that error stopped the whole event.
    await folder.put('batch/input/iris/after-dots.csv', csv(IRIS));
    const event = { Records: ['batch/input/iris/../x.csv', 'batch/input/iris/after-dots.csv'].flatMap((key) => putEvent(key).Records) } as S3Event;
    const outcomes = (await app.batchScore(event)) as { status: string }[];
    expect(outcomes.map((o) => o.status)).toEqual(['skipped', 'succeeded']);
    expect((await manifestOf(folder, 'batch/output/iris/after-dots.csv.manifest.json')).status).toBe('succeeded');
  });

  it('leaves out what a malformed event cannot name (it is logged), and scores the rest of the event', async () => {
    // S3 and the function itself send well-formed events; anyone with invoke rights can send these,
    // which threw TypeErrors (and Lambda retried them twice).
    for (const event of [{ continue: {} }, { continue: null }, { continue: { bucket: 'b', key: 7 } }, { Records: 'x' }, null]) {
      await expect(app.batchScore(event as unknown as S3Event), JSON.stringify(event)).resolves.toEqual([]);
    }
    await folder.put('batch/input/iris/after-malformed.csv', csv(IRIS));
    const broken = [
      { eventName: 'ObjectCreated:Put', s3: {} },
      { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'batch/input/iris/%E0%A4%A.csv' } } },
    ];
    const event = { Records: [...broken, ...putEvent('batch/input/iris/after-malformed.csv').Records] } as unknown as S3Event;
    const outcomes = (await app.batchScore(event)) as { status: string }[];
    expect(outcomes.map((o) => o.status)).toEqual(['succeeded']);
  });

  it('scores JSON Lines for a pinned version and an alias, naming lines that are not JSON', async () => {
    await folder.put(
      'batch/input/spam@production/mail.ndjson',
      '{"text":"WIN a FREE prize! click here to claim your cash now"}\nnot json\n\n{"text":"Hi Tom, the meeting notes from the kernel review are attached. Thanks"}\n',
    );
    await app.batchScore(putEvent('batch/input/spam@production/mail.ndjson'));
    const lines = (await text(folder, 'batch/output/spam@production/mail.ndjson.predictions.jsonl'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.line, l.label])).toEqual([
      [1, 'spam'],
      [4, 'ham'],
    ]);
    expect((await text(folder, 'batch/output/spam@production/mail.ndjson.errors.jsonl')).trim()).toBe('{"line":2,"error":"not valid JSON"}');
  });

  it('names a feature missing from a JSON Lines row, and a value beyond float32 or in hex in a CSV row, as row errors', async () => {
    await folder.put(
      'batch/input/iris/gaps.jsonl',
      '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4}\n{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}\n',
    );
    await app.batchScore(putEvent('batch/input/iris/gaps.jsonl'));
    expect((await text(folder, 'batch/output/iris/gaps.jsonl.errors.jsonl')).trim()).toBe(
      '{"line":1,"error":"missing petal_width (expected features: sepal_length, sepal_width, petal_length, petal_width)"}',
    );
    await folder.put('batch/input/iris/wide.csv', csv([IRIS[0], [1e39, 3, 5, 2, ''], ['0x10', 3, 5, 2, ''], IRIS[1]]));
    await app.batchScore(putEvent('batch/input/iris/wide.csv'));
    const errors = (await text(folder, 'batch/output/iris/wide.csv.errors.jsonl'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(errors).toEqual([
      { line: 3, error: expect.stringMatching(/^sepal_length is 1e\+39, beyond float32/) },
      { line: 4, error: expect.stringMatching(/^sepal_length must be a finite number, got "0x10"/) },
    ]);
    expect((await manifestOf(folder, 'batch/output/iris/wide.csv.manifest.json')).rows).toEqual({ read: 4, scored: 2, failed: 2 });
  });

  it('does nothing new for a redelivered event, and rescores when the file changes', async () => {
    await folder.put('batch/input/iris:1/again.csv', csv(IRIS));
    await app.batchScore(putEvent('batch/input/iris:1/again.csv'));
    const first = await text(folder, 'batch/output/iris:1/again.csv.manifest.json');
    const [redelivered] = (await app.batchScore(putEvent('batch/input/iris:1/again.csv'))) as { status: string }[];
    expect(redelivered.status).toBe('skipped');
    expect(await text(folder, 'batch/output/iris:1/again.csv.manifest.json')).toBe(first);
    await folder.put('batch/input/iris:1/again.csv', csv(IRIS.slice(0, 2)));
    await app.batchScore(putEvent('batch/input/iris:1/again.csv'));
    expect((await manifestOf(folder, 'batch/output/iris:1/again.csv.manifest.json')).rows.scored).toBe(2);
    // New bytes that cannot be scored: the failed manifest is the key's only output, not one beside
    // the predictions and errors of the bytes they replaced.
    await folder.put('batch/input/iris:1/again.csv', 'sepal_length,sepal_width\n1,2\n');
    await app.batchScore(putEvent('batch/input/iris:1/again.csv'));
    expect((await manifestOf(folder, 'batch/output/iris:1/again.csv.manifest.json')).status).toBe('failed');
    expect(await keysUnder(folder, 'batch/output/iris:1/again.csv')).toEqual(['batch/output/iris:1/again.csv.manifest.json']);
  });

  it('leaves a file replaced between its look at it and its read to the new upload, writing nothing', async () => {
    const key = 'batch/input/iris/swapped.csv';
    await folder.put(key, csv(IRIS));
    // The new version lands just before the run's first read of the file.
    let replaced = false;
    const racing: ObjectStore = Object.assign(Object.create(folder), {
      async getStream(name: string, options?: Parameters<ObjectStore['getStream']>[1]) {
        if (name === key && !replaced) {
          replaced = true;
          await folder.put(key, csv([...IRIS, ...IRIS]));
        }
        return folder.getStream(name, options);
      },
    });
    const options = { limits: localLimits(8), marginMs: 1, remainingMs: () => 60_000, continueLater: async () => undefined };

    const outcome = await scoreObject(racing, app.services.loader, key, options);

    expect(replaced).toBe(true);
    expect(outcome.status).toBe('skipped');
    expect(await keysUnder(folder, 'batch/output/iris/swapped.csv.')).toEqual([]);
  });

  it('continues in follow-up invocations when time runs short, and the final output is whole', async () => {
    const many = Array.from({ length: 50 }, (_, i) => IRIS[i % IRIS.length]);
    await folder.put('batch/input/iris/long.csv', csv(many));
    await folder.put('batch/input/iris/short.csv', csv(many));
    app = serving(folder.uri, { MAX_BATCH: '8' });
    let budget = 2; // each invocation scores 3 micro-batches (2 checks pass, the third hands over)
    const continued: string[] = [];
    const options = {
      limits: localLimits(8),
      marginMs: 1,
      remainingMs: () => (budget-- > 0 ? 1000 : 0),
      continueLater: async (key: string) => {
        continued.push(key);
      },
    };
    let outcome = await scoreObject(folder, app.services.loader, 'batch/input/iris/long.csv', options);
    expect(outcome.status).toBe('continued');
    const run = runFiles(outputsFor(parseInputKey('batch/input/iris/long.csv')), outcome.run!);
    expect(await folder.head('batch/output/iris/long.csv.predictions.csv')).toBeUndefined(); // nothing visible yet
    expect(await folder.head(run.checkpoint)).toBeDefined();
    while (outcome.status === 'continued') {
      budget = 2;
      outcome = await scoreObject(folder, app.services.loader, 'batch/input/iris/long.csv', { ...options, resume: outcome.run });
    }
    await scoreObject(folder, app.services.loader, 'batch/input/iris/short.csv', { ...options, remainingMs: () => Infinity });
    app = serving(folder.uri);
    expect(outcome.manifest).toMatchObject({ status: 'succeeded', rows: { read: 50, scored: 50, failed: 0 }, invocations: 3 });
    expect(continued).toEqual(['batch/input/iris/long.csv', 'batch/input/iris/long.csv']);
    expect(await text(folder, 'batch/output/iris/long.csv.predictions.csv')).toBe(await text(folder, 'batch/output/iris/short.csv.predictions.csv'));
    expect(await keysUnder(folder, run.prefix)).toEqual([]);
    expect(await keysUnder(folder, 'batch/output/iris/long.csv.')).toEqual(
      ['errors.jsonl', 'manifest.json', 'predictions.csv'].map((name) => `batch/output/iris/long.csv.${name}`),
    );
  });

  it('a file replaced between two invocations of its run: the new upload is scored and no part of the old run is left', async () => {
    const key = 'batch/input/iris/replaced-mid-run.csv';
    await folder.put(key, csv(Array.from({ length: 100 }, (_, i) => IRIS[i % IRIS.length])));
    const handOver = { limits: localLimits(10), marginMs: 1, remainingMs: () => 0, continueLater: async () => undefined };
    const first = await scoreObject(folder, app.services.loader, key, handOver);
    expect(first.status).toBe('continued');
    const resume = first.run;
    for (let i = 0; i < 3; i += 1) expect((await scoreObject(folder, app.services.loader, key, { ...handOver, resume })).status).toBe('continued');
    expect(await folder.head(runFiles(outputsFor(parseInputKey(key)), resume!).part(3, 'predictions'))).toBeDefined();

    await folder.put(key, csv(IRIS.slice(0, 2)));
    const fresh = await scoreObject(folder, app.services.loader, key, { ...handOver, remainingMs: () => Number.POSITIVE_INFINITY });
    expect(fresh.manifest).toMatchObject({ status: 'succeeded', rows: { read: 2, scored: 2, failed: 0 } });
    expect((await scoreObject(folder, app.services.loader, key, { ...handOver, resume })).status).toBe('skipped'); // the stale continuation
    expect(await keysUnder(folder, 'batch/output/iris/replaced-mid-run.csv.')).toEqual(
      ['errors.jsonl', 'manifest.json', 'predictions.csv'].map((name) => `batch/output/iris/replaced-mid-run.csv.${name}`),
    );
  });

  it('a file with its own label column keeps it: the answer columns are named predicted_label, predicted_score', async () => {
    await folder.put('batch/input/spam/labelled.csv', 'text,label\nwin a free prize now,spam\nsee you at lunch,ham\n');
    const [outcome] = (await app.batchScore(putEvent('batch/input/spam/labelled.csv'))) as { status: string }[];
    expect(outcome.status).toBe('succeeded');
    const [header, ...rows] = (await text(folder, 'batch/output/spam/labelled.csv.predictions.csv')).trim().split('\n');
    expect(header).toBe('text,label,predicted_label,predicted_score');
    expect(rows.map((row) => row.split(',').slice(0, 3).join(','))).toEqual(['win a free prize now,spam,spam', 'see you at lunch,ham,ham']);
  });

  it('names a bad field of a row as predict does, without the request path, and the column its image is in ("image.b64: ...", "image: ...")', async () => {
    const errorsOf = async (name: string, body: string) => {
      await folder.put(`batch/input/digits/${name}`, body);
      await app.batchScore(putEvent(`batch/input/digits/${name}`));
      return (await text(folder, `batch/output/digits/${name}.errors.jsonl`))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    };
    // Predict says "instances[0].image.b64: not valid base64" for the same object.
    expect(await errorsOf('bad-image.jsonl', `${JSON.stringify({ image: { b64: '%%%' } })}\n`)).toEqual([{ line: 1, error: 'image.b64: not valid base64' }]);
    // A CSV of an id and an image column: the row's error says which column, as a tabular row's names its feature.
    expect(await errorsOf('bad-image.csv', 'id,image\n7,%%%\n8,aGVsbG8gd29ybGQ=\n')).toEqual([
      { line: 2, error: 'image: not valid base64' },
      { line: 3, error: 'image: not a PNG or JPEG image' },
    ]);
    // An element of a raw row is named as predict names it, after its column; an empty image column as such.
    await folder.put('batch/input/iris/raw.jsonl', `${JSON.stringify({ instance: [5.1, 'x', 1.4, 0.2] })}\n`);
    await app.batchScore(putEvent('batch/input/iris/raw.jsonl'));
    expect(JSON.parse(await text(folder, 'batch/output/iris/raw.jsonl.errors.jsonl')).error).toMatch(/^instance\[1\]: /);
    expect(await errorsOf('empty.jsonl', `${JSON.stringify({ image: null, id: 2 })}\n`)).toEqual([{ line: 1, error: 'column image is empty: it holds the image' }]);
    // An image in a column of another name beside an id: which columns are read, not "neither an instance nor a raw row".
    expect(await errorsOf('photo.csv', 'id,photo\n7,aGVsbG8gd29ybGQ=\n')).toEqual([
      { line: 2, error: "no column holds the image: it is read from column image or b64, else from a row's only column (this row has id, photo)" },
    ]);
  });

  it('a tabular CSV of every feature column is read by them beside an id column named instance, on the row path as on the columnar one', async () => {
    await folder.put('batch/input/iris/ids.csv', 'instance,sepal_length,sepal_width,petal_length,petal_width\nr1,5.1,3.5,1.4,0.2\nr2,x,3.5,1.4,0.2\n');
    await app.batchScore(putEvent('batch/input/iris/ids.csv'));
    expect((await text(folder, 'batch/output/iris/ids.csv.predictions.csv')).split('\n')[1]).toMatch(/^r1,5\.1,3\.5,1\.4,0\.2,setosa,/);
    // Its bad cell is named, not the id taken for the row ("instance: is neither an instance ... nor a raw tensor row").
    expect(JSON.parse(await text(folder, 'batch/output/iris/ids.csv.errors.jsonl'))).toEqual({
      line: 3,
      error: 'sepal_length must be a finite number, got "x" (expected features: sepal_length, sepal_width, petal_length, petal_width)',
    });
  });

  it('replaces the half-written output of a crashed run instead of appending to it, and removes the folder of a run gone for a day', async () => {
    await folder.put('batch/input/iris/crash.csv', csv(IRIS));
    const outputs = outputsFor(parseInputKey('batch/input/iris/crash.csv'));
    const [died, recent] = [runFiles(outputs, randomUUID()), runFiles(outputs, randomUUID())];
    for (const run of [died, recent]) {
      await folder.put(run.part(0, 'predictions'), 'garbage from a run that died\n');
      await folder.put(run.checkpoint, '{}');
    }
    const dayAndHourAgo = new Date(Date.now() - ABANDONED_AFTER_MS - 3_600_000);
    for (const key of [died.part(0, 'predictions'), died.checkpoint]) await utimes(path.join(fileURLToPath(folder.uri), key), dayAndHourAgo, dayAndHourAgo);
    await folder.put('batch/output/iris/crash.csv.predictions.csv', 'stale\n');
    await app.batchScore(putEvent('batch/input/iris/crash.csv'));
    const predictions = await text(folder, 'batch/output/iris/crash.csv.predictions.csv');
    expect(predictions).not.toMatch(/garbage|stale/);
    expect(predictions.trim().split('\n')).toHaveLength(IRIS.length + 1);
    // The run that wrote nothing for more than a day is gone; the other may still be alive.
    expect(await keysUnder(folder, outputs.runsPrefix)).toEqual([recent.checkpoint, recent.part(0, 'predictions')].sort());
  });

  it.each([
    ['an unknown model', 'batch/input/nope/rows.csv', csv(IRIS), /no model named nope/],
    [
      'a header without a feature column',
      'batch/input/iris/cols.csv',
      'sepal_length,sepal_width,petal_length\n1,2,3\n',
      /lacks column\(s\) petal_width; it has sepal_length, sepal_width, petal_length/,
    ],
    [
      // A one-line file of 5,000 long values read as a header: the manifest names 20, not 200 KB of them.
      'a header of 5,000 columns, none of them a feature',
      'batch/input/iris/manycols.csv',
      `${Array.from({ length: 5000 }, (_, i) => `value_${i}_${'x'.repeat(30)}`).join(',')}\n`,
      /^the CSV header lacks column\(s\) sepal_length, sepal_width, petal_length, petal_width; it has value_0_x{30}, (value_\d+_x{30}, ){18}value_19_x{30}, and 4980 more$/,
    ],
    [
      // Read as name -> cell, the row 1,9,2,3,4 was scored with sepal_length 1 and the 9 dropped.
      'a header naming a column twice',
      'batch/input/iris/twice.csv',
      'sepal_length,sepal_length,sepal_width,petal_length,petal_width\n1,9,2,3,4\n',
      /^the CSV header names column "sepal_length" twice \(columns 1 and 2\)/,
    ],
    ['a file that is not UTF-8', 'batch/input/iris/latin1.csv', Buffer.from([...Buffer.from(`${HEADER}\n5.1,3.5,1.4,0.2\n`), 0xff, 0xfe, 0x0a]), /not valid UTF-8/],
  ])('writes an error manifest and no output for %s', async (_case, key, body, message) => {
    await folder.put(key, body);
    const baseline = tf.memory().numTensors;
    await app.batchScore(putEvent(key));
    const manifest = await manifestOf(folder, `${key.replace('batch/input/', 'batch/output/')}.manifest.json`);
    expect(manifest.status).toBe('failed');
    expect(manifest.error).toMatch(message);
    expect(await folder.head(`${key.replace('batch/input/', 'batch/output/')}.predictions.csv`)).toBeUndefined();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('a damaged model version (weights that fail their checksum) gets a failed manifest saying so, not a retry that reads the same bytes', async () => {
    const root = fileURLToPath(folder.uri);
    await cp(`${root}/iris`, `${root}/damaged`, { recursive: true });
    const manifest = JSON.parse(await text(folder, 'damaged/versions/1/manifest.json'));
    await folder.put('damaged/versions/1/manifest.json', JSON.stringify({ ...manifest, name: 'damaged' }));
    await folder.put('damaged/versions/1/weights.bin', new Uint8Array(16));
    await folder.put('batch/input/damaged/rows.csv', csv(IRIS));
    const [outcome] = (await app.batchScore(putEvent('batch/input/damaged/rows.csv'))) as { status: string }[];
    expect(outcome.status).toBe('failed');
    const outcomeManifest = await manifestOf(folder, 'batch/output/damaged/rows.csv.manifest.json');
    expect(outcomeManifest).toMatchObject({ status: 'failed', error: expect.stringMatching(/damaged in the store/) });
    expect(outcomeManifest.error).not.toMatch(/sha256|weights\.bin/);
  });

  it.each([
    ['not JSON', 'hi'],
    ['not a manifest', '{}'],
  ])('a version whose stored manifest is %s gets a failed manifest saying it is damaged, not a retry that reads the same bytes', async (_case, body) => {
    const root = fileURLToPath(folder.uri);
    const name = `bad-manifest-${body.length}`;
    await cp(`${root}/iris`, `${root}/${name}`, { recursive: true });
    await folder.put(`${name}/versions/1/manifest.json`, body);
    await folder.put(`batch/input/${name}:1/rows.csv`, csv(IRIS));
    const [outcome] = (await app.batchScore(putEvent(`batch/input/${name}:1/rows.csv`))) as { status: string }[];
    expect(outcome.status).toBe('failed');
    const outcomeManifest = await manifestOf(folder, `batch/output/${name}:1/rows.csv.manifest.json`);
    expect(outcomeManifest).toMatchObject({ status: 'failed', error: expect.stringMatching(/damaged in the store \(its manifest\.json is not a valid manifest\)/) });
  });

  it('answers an empty file with a manifest of zero rows', async () => {
    await folder.put('batch/input/iris/empty.csv', '');
    await app.batchScore(putEvent('batch/input/iris/empty.csv'));
    expect(await manifestOf(folder, 'batch/output/iris/empty.csv.manifest.json')).toMatchObject({ status: 'succeeded', rows: { read: 0, scored: 0, failed: 0 } });
  });

  it('ignores keys outside batch/input/ and other event types', async () => {
    expect(await app.batchScore(putEvent('models/iris/x.csv'))).toEqual([]);
    expect(
      await app.batchScore({ Records: [{ eventName: 'ObjectRemoved:Delete', s3: { bucket: { name: 'b' }, object: { key: 'batch/input/iris/a.csv' } } }] } as unknown as S3Event),
    ).toEqual([]);
  });
});

describe('a file replaced after its run read it to the end, before the run published', () => {
  // The new upload's run publishes first; the earlier run, about to publish, must leave its outputs alone.
  it.each([
    ['would succeed', csv(IRIS)],
    // A record cut short at the file's end fails the whole file: a failed manifest would remove the new outputs.
    ['would fail', `${csv(IRIS)}5.1,3.5\n`],
  ])("the earlier version, which %s, publishes nothing: the new upload's outputs and manifest stay", async (_what, earlier) => {
    const key = `batch/input/iris/replaced-${randomUUID()}.csv`;
    const outputs = outputsFor(parseInputKey(key));
    const later = csv([...IRIS].reverse());
    await folder.put(key, earlier);
    const earlierEtag = (await folder.head(key))?.etag ?? '';
    let newer: Awaited<ReturnType<typeof scoreObject>> | undefined;
    const replacedBeforePublishing = Object.create(folder) as ObjectStore;
    replacedBeforePublishing.put = async (k, body, options) => {
      if (k === outputs.publication(earlierEtag) && !newer) {
        await folder.put(key, later);
        newer = await scoreObject(folder, app.services.loader, key, oneInvocation(64));
      }
      return folder.put(k, body, options);
    };
    const outcome = await scoreObject(replacedBeforePublishing, app.services.loader, key, oneInvocation(64));
    expect(newer?.status).toBe('succeeded');
    expect(outcome.status).toBe('skipped');
    const manifest = await manifestOf(folder, outputs.manifest);
    expect(manifest).toMatchObject({ status: 'succeeded', source: { etag: (await folder.head(key))?.etag } });
    const predictions = (await text(folder, outputs.predictions)).trim().split('\n');
    expect(predictions.slice(1).map((line) => line.split(',').slice(0, 4).join(','))).toEqual([...IRIS].reverse().map((r) => r.slice(0, 4).join(',')));
    expect(await keysUnder(folder, outputs.runsPrefix)).toEqual([]);
  });
});

describe('outputs replaced for a new upload', () => {
  it("never stand beside the earlier upload's manifest: a join cut short by the store leaves no manifest, and the retry writes the new one", async () => {
    const key = `batch/input/iris/rejoined-${randomUUID()}.csv`;
    const outputs = outputsFor(parseInputKey(key));
    await folder.put(key, csv(IRIS));
    expect((await scoreObject(folder, app.services.loader, key, oneInvocation(64))).status).toBe('succeeded');
    const later = csv([...IRIS].reverse());
    await folder.put(key, later);
    // The errors' join fails as S3 fails past the client's retries (an SDK error carries $metadata): the event is retried.
    const failingJoin = Object.create(folder) as ObjectStore;
    failingJoin.concat = async (parts, target, options) => {
      if (target === outputs.errors) throw Object.assign(new Error('SlowDown'), { $metadata: { httpStatusCode: 503 } });
      return folder.concat?.(parts, target, options);
    };
    await expect(scoreObject(failingJoin, app.services.loader, key, oneInvocation(64))).rejects.toThrow('SlowDown');
    // The new predictions may be there already; the earlier upload's manifest is not, to vouch for them.
    expect(await folder.head(outputs.manifest)).toBeUndefined();
    const retried = await scoreObject(folder, app.services.loader, key, oneInvocation(64));
    expect(retried.status).toBe('succeeded');
    expect(await manifestOf(folder, outputs.manifest)).toMatchObject({ status: 'succeeded', source: { etag: (await folder.head(key))?.etag } });
  });
});

describe("batch scoring on S3, triggered by the server's own events", () => {
  let s3: S3rverHandle;
  beforeAll(async () => {
    s3 = await startS3rver();
    // Models from the folder store; batch files in the bucket that sends the events.
    app = serving(folder.uri, { S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  });
  afterAll(async () => {
    app = serving(folder.uri);
    await s3?.stop();
  });

  it('scores an upload when s3rver announces it, and a second upload of the same bytes changes nothing', async () => {
    const events: Promise<unknown>[] = [];
    const off = s3.onEvent((event) => events.push(app.batchScore(event)));
    await s3.store.put('batch/input/iris/upload.csv', csv(IRIS));
    await Promise.all(events);
    const manifest = await manifestOf(s3.store, 'batch/output/iris/upload.csv.manifest.json');
    expect(manifest).toMatchObject({ status: 'succeeded', rows: { scored: IRIS.length } });
    const labels = (await text(s3.store, 'batch/output/iris/upload.csv.predictions.csv'))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[4]);
    expect(labels).toEqual(IRIS.map((r) => r[4]));

    events.length = 0;
    await s3.store.put('batch/input/iris/upload.csv', csv(IRIS));
    const outcomes = (await Promise.all(events)) as { status: string }[][];
    off();
    // Our own outputs also raise events, but none is under batch/input/: only the upload counts.
    expect(outcomes.flat().map((o) => o.status)).toEqual(['skipped']);
    expect(await manifestOf(s3.store, 'batch/output/iris/upload.csv.manifest.json')).toEqual(manifest);
  });

  it('a run whose time runs short right after its last row resumes at the end of the file, and succeeds', async () => {
    // 23 rows: three micro-batches of 8 records (the first holds the header), all scored before the hand-over.
    const rows = Array.from({ length: 23 }, (_, i) => IRIS[i % IRIS.length]);
    await s3.store.put('batch/input/iris/to-the-end.csv', csv(rows));
    let checks = 0;
    const options = { limits: localLimits(8), marginMs: 1, remainingMs: () => (++checks < 3 ? 1000 : 0), continueLater: async () => undefined };
    const first = await scoreObject(s3.store, app.services.loader, 'batch/input/iris/to-the-end.csv', options);
    expect(first.status).toBe('continued');
    expect(checks).toBe(3);
    const last = await scoreObject(s3.store, app.services.loader, 'batch/input/iris/to-the-end.csv', { ...options, resume: first.run });
    expect(last.manifest).toMatchObject({ status: 'succeeded', rows: { read: 23, scored: 23, failed: 0 }, invocations: 2 });
  });
});
