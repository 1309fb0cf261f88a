/**
 * A TF.js folder whose model.json TF.js cannot build (an unknown layer class, a topology of the wrong
 * shape, a weights manifest that is not one) is the user's problem: a push is refused with a 400 that
 * says why, and an import records a failed outcome instead of throwing (which Lambda would retry, and
 * the user would see nothing). A store that fails is still thrown, so Lambda retries the event.
 */
import { mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { importObject } from '../../lib/imports/run.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { listVersions } from '../../lib/registry/index.js';
import { localLimits } from '../../lib/runtime/memory.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeLayersModel } from '../helpers/tinyModels.js';

type Json = Record<string, unknown>;

const cases: [string, (json: Json) => Json, RegExp][] = [
  [
    'an unknown layer class',
    (json) => JSON.parse(JSON.stringify(json).replace('"class_name":"Dense"', '"class_name":"MyDense"')),
    /TF\.js cannot load the model: Unknown layer: MyDense\. .*registerClass/,
  ],
  ['a null modelTopology', (json) => ({ ...json, modelTopology: null }), /modelTopology must be an object/],
  ['an empty layers topology', (json) => ({ ...json, modelTopology: {} }), /TF\.js cannot load the model: /],
  ['an empty graph topology', (json) => ({ ...json, format: 'graph-model', modelTopology: {} }), /TF\.js cannot load the model: /],
  // A graph with no nodes loads in TF.js with neither inputs nor outputs: its first output was read regardless (a TypeError).
  ['a graph with no nodes', () => ({ format: 'graph-model', modelTopology: { node: [], versions: {} }, weightsManifest: [] }), /^the model has no inputs: /],
  ['a weightsManifest that is a string', (json) => ({ ...json, weightsManifest: 'x' }), /weightsManifest must be an array/],
  [
    'a weight spec without a shape',
    (json) => ({ ...json, weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', dtype: 'float32' }] }] }),
    /weightsManifest\[0\]\.weights\[0\] must have/,
  ],
];

let store: ObjectStore;
let layers: string;
let modelJson: Json;

beforeAll(async () => {
  store = await tempFolderStore();
  layers = await writeLayersModel();
  modelJson = JSON.parse(await readFile(path.join(layers, 'model.json'), 'utf8'));
});

/** The tiny layers folder with its model.json changed, as a folder and as the zip an import takes. */
async function broken(change: (json: Json) => Json): Promise<{ dir: string; zip: Uint8Array }> {
  const dir = await writeLayersModel();
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(change(modelJson)));
  const files = Object.fromEntries(await Promise.all((await readdir(dir)).map(async (f) => [f, new Uint8Array(await readFile(path.join(dir, f)))] as const)));
  return { dir, zip: zipSync(files) };
}

describe('a model TF.js cannot load', () => {
  it.each(cases)('%s: push answers 400 on one line, an import records a failed outcome; no version either way', async (_case, change, message) => {
    const { dir, zip } = await broken(change);
    const name = `broken-${cases.findIndex(([c]) => c === _case)}`;
    const refused = await pushModelFolder(store, dir, name).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as Error).message).toMatch(message);
    expect((refused as Error).message).not.toContain('\n');

    const uploads = await tempFolderStore();
    const key = `imports/${name}/model.zip`;
    await uploads.put(key, zip);
    const outcome = await importObject(uploads, store, key, localLimits().budget);
    expect(outcome).toMatchObject({ status: 'failed', model: name, error: expect.stringMatching(message) });
    expect(JSON.parse(new TextDecoder().decode(await uploads.get(`${key}.outcome.json`)))).toEqual(outcome);
    expect(await listVersions(store, name)).toEqual([]);
  });

  it('a store that fails while importing is still thrown (Lambda retries), and no outcome is written', async () => {
    const { zip } = await broken(cases[0][1]);
    const uploads = await tempFolderStore();
    const key = 'imports/flaky/model.zip';
    await uploads.put(key, zip);
    // The upload itself cannot be read (the connection drops): nothing is known about the model yet.
    const failing: ObjectStore = Object.assign(Object.create(uploads) as ObjectStore, {
      get: (k: string) => (k === key ? Promise.reject(new Error('socket hang up')) : uploads.get(k)),
      // The import reads the upload pinned to its ETag, as a stream.
      getStream: (k: string, options?: Parameters<ObjectStore['getStream']>[1]) => (k === key ? Promise.reject(new Error('socket hang up')) : uploads.getStream(k, options)),
    });
    await expect(importObject(failing, store, key, localLimits().budget)).rejects.toThrow('socket hang up');
    expect(await uploads.head(`${key}.outcome.json`)).toBeUndefined();
  });
});

describe('a shard that is not what the weights manifest says', () => {
  const refusal = (dir: string): Promise<Error> =>
    pushModelFolder(store, dir, 'shards').then(
      () => new Error('pushed'),
      (error: unknown) => error as Error,
    );

  it('larger than declared: refused from its size, before it is read, naming both sizes (a 3 GB file failed the read with a stack)', async () => {
    const dir = await writeLayersModel();
    await truncate(path.join(dir, 'weights.bin'), 3 * 2 ** 30); // sparse: nothing is written
    const refused = await refusal(dir);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect(refused.message).toMatch(/^weight files weights\.bin hold 3221225472 bytes but weightsManifest\[0\] declares \d+$/);
  });

  it('a path that names a folder, is empty or ends in /: refused naming the path', async () => {
    // An empty path and one ending in '/' are refused by the registry's path check (registry/shardPaths.ts) before the folder is read.
    for (const [shard, message] of [
      ['sub', /^weightsManifest\[0\]\.paths\[0\] "sub" names a folder in .*, not a weight file$/],
      ['', /^model\.json: weight path "" is empty/],
      ['weights.bin/', /^model\.json: weight path "weights\.bin\/" /],
    ] as const) {
      const { dir } = await broken((json) => ({ ...json, weightsManifest: [{ ...(json.weightsManifest as Json[])[0], paths: [shard] }] }));
      await mkdir(path.join(dir, 'sub'));
      const refused = await refusal(dir);
      expect(refused).toBeInstanceOf(BadRequestError);
      expect(refused.message).toMatch(message);
    }
    expect(await listVersions(store, 'shards')).toEqual([]);
  });
});
