/**
 * Keras files as Keras saved them (test/fixtures/keras/, where each came from in SOURCES.md:
 * Keras 2.4, 2.13, 2.14, 3.1 and 3.3; `.keras` zips and legacy `.h5`; Dense, Conv2D,
 * DepthwiseConv2D, pooling, BatchNormalization, Dropout, LSTM, Add) imported as new versions and
 * served through OIP v2: each answers what an independent float64 forward pass answers
 * (reference/numpy_reference.py: its own HDF5 reader and the layers written from Keras's
 * semantics), within 1e-5 (relative to the output's size for the diabetes regression, whose
 * outputs are about 200). The MNIST convnet also answers what its repository's notebook printed.
 * Files that are not Keras models, or that TF.js cannot run, get a clear error and write nothing.
 */
import { createHash } from 'node:crypto';
import { cp, readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { importObject } from '../../lib/imports/run.js';
import { type H5Group, readHdf5 } from '../../lib/keras/hdf5.js';
import { pushKerasFile } from '../../lib/ops/pushKeras.js';
import { listVersions, readManifest } from '../../lib/registry/index.js';
import { localLimits } from '../../lib/runtime/memory.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { listAll, versionOf, type ObjectStore } from '../../lib/store/index.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

const FIXTURES = 'test/fixtures/keras';

interface Expected {
  fixture: string;
  inputShape: number[];
  inputs: number[];
  outputs: number[][];
}

let store: FolderStore;
let app: App;
/** Every float32 dataset of an HDF5 group, depth first. */
const floatDatasets = (group: H5Group): Float32Array[] => [
  ...[...group.datasets.values()].map((d) => d.value).filter((v): v is Float32Array => v instanceof Float32Array && v.length >= 2),
  ...[...group.groups.values()].flatMap(floatDatasets),
];
const fixture = (name: string) => readFile(`${FIXTURES}/${name}`).then((b) => new Uint8Array(b));

async function infer(model: string, expected: Expected): Promise<number[][]> {
  const metadata = await call(app.metadata, 'GET', `/v2/models/${model}`);
  const [input] = metadata.body.inputs as { name: string; shape: number[] }[];
  expect(input.shape.slice(1)).toEqual(expected.inputShape.slice(1));
  const answer = await call(app.predict, 'POST', `/v2/models/${model}/infer`, {
    inputs: [{ name: input.name, shape: expected.inputShape, datatype: 'FP32', data: expected.inputs }],
  });
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  const [output] = answer.body.outputs as { shape: number[]; data: number[] }[];
  const width = output.shape[1];
  return Array.from({ length: output.shape[0] }, (_, r) => output.data.slice(r * width, (r + 1) * width));
}

beforeAll(async () => {
  store = await tempFolderStore();
  app = serving(store.uri);
});

/** The zip with the central directory's inflated size of `entry` set to `bytes` (what a zip bomb's directory may say, or lie about). */
function declaring(zip: Uint8Array, entry: string, bytes: number): Uint8Array {
  const out = zip.slice();
  const view = new DataView(out.buffer);
  let end = out.length - 22;
  while (view.getUint32(end, true) !== 0x06054b50) end -= 1;
  for (let at = view.getUint32(end + 16, true); view.getUint32(at, true) === 0x02014b50; ) {
    const nameLength = view.getUint16(at + 28, true);
    if (new TextDecoder().decode(out.subarray(at + 46, at + 46 + nameLength)) === entry) view.setUint32(at + 24, bytes, true);
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return out;
}

const references = (await readdir(`${FIXTURES}/reference`)).filter((name) => name.endsWith('.expected.json'));

describe('a Keras file imported as saved answers as an independent forward pass does', () => {
  it('covers every fixture', async () => {
    const files = (await readdir(FIXTURES)).filter((name) => /\.(keras|h5)$/.test(name));
    expect(references.map((name) => name.replace('.expected.json', '')).sort()).toEqual(files.map((name) => name.replace(/\.(keras|h5)$/, '')).sort());
  });

  it.each(references)('%s', async (reference) => {
    const expected = JSON.parse(await readFile(`${FIXTURES}/reference/${reference}`, 'utf8')) as Expected;
    const bytes = await fixture(expected.fixture);
    const name = reference.replace('.expected.json', '').replace(/_/g, '-');
    const manifest = await pushKerasFile(store, bytes, expected.fixture, name);
    expect(manifest.lineage).toMatchObject({
      sourceFormat: expected.fixture.endsWith('.keras') ? 'keras' : 'h5',
      sourceSha256: createHash('sha256').update(bytes).digest('hex'),
      kerasVersion: expect.stringMatching(/^[23]\.\d+\.\d+$/),
    });
    const outputs = await infer(name, expected);
    expect(outputs).toHaveLength(expected.outputs.length);
    for (const [r, row] of expected.outputs.entries()) {
      for (const [j, value] of row.entries()) expect(Math.abs(outputs[r][j] - value), `${r},${j}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(value)));
    }
  });

  it('the diabetes MLP answers what a forward pass written here answers (weights read with h5wasm at their paths)', async () => {
    const expected = JSON.parse(await readFile(`${FIXTURES}/reference/mlp_relu_diabetes_keras3_1.expected.json`, 'utf8')) as Expected;
    const { default: h5wasm } = await import('h5wasm');
    const { FS } = await h5wasm.ready;
    FS.writeFile('/diabetes-test.h5', unzipSync(await fixture('mlp_relu_diabetes_keras3_1.keras'))['model.weights.h5']);
    const file = new h5wasm.File('/diabetes-test.h5', 'r');
    const read = (p: string) => {
      const dataset = file.get(p) as unknown as { value: Float32Array; shape: number[] };
      return { value: dataset.value, shape: dataset.shape };
    };
    // Keras 3 names the groups by class and rank: the config's dense_26, dense_27, dense_28.
    const layers = ['dense', 'dense_1', 'dense_2'].map((name) => ({ kernel: read(`layers/${name}/vars/0`), bias: read(`layers/${name}/vars/1`) }));
    file.close();
    FS.unlink('/diabetes-test.h5');
    const dense = (x: number[], { kernel, bias }: (typeof layers)[number]) =>
      Array.from({ length: kernel.shape[1] }, (_, j) => x.reduce((sum, v, i) => sum + v * kernel.value[i * kernel.shape[1] + j], bias.value[j]));
    const relu = (x: number[]) => x.map((v) => Math.max(0, v));
    const outputs = await infer('mlp-relu-diabetes-keras3-1', expected);
    for (let r = 0; r < expected.outputs.length; r += 1) {
      const x = expected.inputs.slice(r * 10, (r + 1) * 10);
      const [y] = dense(relu(dense(relu(dense(x, layers[0])), layers[1])), layers[2]);
      expect(Math.abs(outputs[r][0] - y)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(y)));
    }
  });

  it('a Keras 3.4+ config (dtype policies as objects) imports the same; a mixed-precision policy is refused', async () => {
    const entries = unzipSync(await fixture('mlp_relu_diabetes_keras3_1.keras'));
    const policy = (name: string) => JSON.stringify({ module: 'keras', class_name: 'DTypePolicy', config: { name }, registered_name: null });
    const withPolicy = (name: string) =>
      zipSync({ ...entries, 'config.json': strToU8(new TextDecoder().decode(entries['config.json']).replaceAll('"dtype": "float32"', `"dtype": ${policy(name)}`)) });
    const expected = JSON.parse(await readFile(`${FIXTURES}/reference/mlp_relu_diabetes_keras3_1.expected.json`, 'utf8')) as Expected;
    await pushKerasFile(store, withPolicy('float32'), 'policies.keras', 'diabetes-policies');
    const outputs = await infer('diabetes-policies', expected);
    for (const [r, [value]] of expected.outputs.entries()) expect(Math.abs(outputs[r][0] - value)).toBeLessThanOrEqual(1e-5 * Math.abs(value));
    await expect(pushKerasFile(store, withPolicy('mixed_float16'), 'mixed.keras', 'diabetes-mixed')).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/mixed_float16.*float32/),
    });
  });

  it("answers what the convnet's own notebook printed for its 1.png", async () => {
    const printed = JSON.parse(await readFile(`${FIXTURES}/reference/convnet_mnist_1png.json`, 'utf8'));
    const pixels = (printed.input_uint8_28x28 as number[][]).flat().map((p) => Math.fround(p / 255));
    const [row] = await infer('convnet-mnist-keras3-1', { fixture: '', inputShape: [1, 28, 28, 1], inputs: pixels, outputs: [] });
    for (const [j, value] of (printed.expected_output_printed_by_notebook as number[]).entries()) expect(Math.abs(row[j] - value)).toBeLessThanOrEqual(1e-5);
  });
});

describe('a file that is not a Keras model TF.js can run gets a clear error and writes nothing', () => {
  const refused = async (bytes: Uint8Array, message: RegExp) => {
    const before = await listVersions(store, 'refused').catch(() => []);
    await expect(pushKerasFile(store, bytes, 'upload', 'refused')).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(message) });
    expect(await listVersions(store, 'refused').catch(() => [])).toEqual(before);
  };

  it('a layer TF.js cannot run: named, with what it can', async () => {
    const entries = unzipSync(await fixture('mlp_relu_diabetes_keras3_1.keras'));
    const config = new TextDecoder().decode(entries['config.json']).replace('"class_name": "ReLU"', '"class_name": "SpectralNormalization"');
    expect(config).toContain('SpectralNormalization');
    await refused(zipSync({ ...entries, 'config.json': strToU8(config) }), /SpectralNormalization.*Layers TF\.js runs: .*Dense/);
  });

  it('a truncated .keras', async () => {
    const bytes = await fixture('convnet_mnist_keras3_1.keras');
    await refused(bytes.subarray(0, bytes.length / 2), /not a readable zip|damaged or truncated/);
  });

  it("a .keras whose weights changed after Keras wrote it: refused by its CRC-32, as Python's zipfile refuses it", async () => {
    const bytes = await fixture('mlp_relu_diabetes_keras3_1.keras');
    const weightsOf = async (keras: Uint8Array) => floatDatasets(await readHdf5(unzipSync(keras)['model.weights.h5'], 'weights'));
    const [kernel] = await weightsOf(bytes);
    // Keras stores its entries undeflated: a weight's bytes are in the file as they are in memory.
    const pattern = Buffer.from(kernel.buffer, kernel.byteOffset, 8);
    const at = Buffer.from(bytes).indexOf(pattern);
    expect(at).toBeGreaterThan(0);
    expect(Buffer.from(bytes).lastIndexOf(pattern)).toBe(at);
    const damaged = bytes.slice();
    damaged[at] ^= 1;
    // Still a zip, and an HDF5 file that reads: one weight is a little different, and only the CRC tells.
    const [changed] = await weightsOf(damaged);
    expect(changed[0]).not.toBe(kernel[0]);
    expect(changed.slice(1)).toEqual(kernel.slice(1));
    await refused(damaged, /entry "model\.weights\.h5" does not match the CRC-32/);
  });

  it('a truncated .h5', async () => {
    const bytes = await fixture('convnet_mnist_keras3_1_legacy.h5');
    await refused(bytes.subarray(0, bytes.length / 3), /damaged or truncated/);
  });

  it('a zip without config.json', async () => {
    await refused(zipSync({ 'README.md': strToU8('not a model') }), /without config\.json/);
  });

  it('an HDF5 file that is not a Keras model (the weights file inside a .keras)', async () => {
    const weightsOnly = unzipSync(await fixture('convnet_mnist_keras3_1.keras'))['model.weights.h5'];
    await refused(weightsOnly, /without a Keras model config/);
  });

  it('a config nested 50,000 levels deep: refused at a depth cap, not a stack overflow', async () => {
    const entries = unzipSync(await fixture('mlp_relu_diabetes_keras3_1.keras'));
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    await refused(zipSync({ ...entries, 'config.json': strToU8(`{"class_name": "Sequential", "config": {"layers": [], "a": ${deep}}}`) }), /nests deeper than 200 levels/);
  });

  it("TF.js's message over several lines: on one line", async () => {
    const entries = unzipSync(await fixture('mlp_relu_diabetes_keras3_1.keras'));
    const config = new TextDecoder().decode(entries['config.json']).replace('"activation": "linear"', '"activation": "nosuchAct"');
    expect(config).toContain('nosuchAct');
    // `.` does not match a line break: the whole message is one line.
    await refused(
      zipSync({ ...entries, 'config.json': strToU8(config) }),
      /^upload: TF\.js cannot build the model from its config: Unknown activation: nosuchAct\..*1\. .*2\. .*$/,
    );
  });

  it('anything else', async () => {
    await refused(strToU8('{"just": "json"}'), /neither a \.keras file/);
  });
});

describe('an upload under imports/{model}/', () => {
  it('becomes a new version once per ETag, with its outcome next to it; a bad file leaves only a failed outcome', async () => {
    const uploads = await tempFolderStore();
    const key = 'imports/diabetes/model.keras';
    await cp(`${FIXTURES}/mlp_relu_diabetes_keras3_1.keras`, fileURLToPath(`${uploads.uri}/${key}`));
    await uploads.put(`${key}.meta.json`, JSON.stringify({ description: 'sklearn diabetes, 10 features', task: 'regression' }));
    const budget = localLimits().budget;
    const first = await importObject(uploads, store, key, budget);
    expect(first).toMatchObject({ status: 'created', model: 'diabetes', version: 1 });
    expect(JSON.parse(new TextDecoder().decode(await uploads.get(`${key}.outcome.json`)))).toEqual(first);
    expect((await app.services.loader.withModel({ name: 'diabetes', version: 1 }, async (m) => m.manifest)).description).toBe('sklearn diabetes, 10 features');
    // The same upload again (a redelivered event): nothing new.
    expect(await importObject(uploads, store, key, budget)).toEqual(first);
    expect(await listVersions(store, 'diabetes')).toEqual([1]);

    await uploads.put('imports/diabetes/broken.h5', strToU8('not HDF5 at all'));
    const failed = await importObject(uploads, store, 'imports/diabetes/broken.h5', budget);
    expect(failed).toMatchObject({ status: 'failed', model: 'diabetes', error: expect.stringMatching(/neither/) });
    expect(await listVersions(store, 'diabetes')).toEqual([1]);
    expect(await importObject(uploads, store, 'imports/diabetes/notes.txt', budget)).toBeUndefined();
  });

  it('one upload whose event is delivered twice at once becomes one version, which both outcomes name', async () => {
    const registry = await tempFolderStore();
    const uploads = await tempFolderStore();
    const key = 'imports/diabetes/model.keras';
    await cp(`${FIXTURES}/mlp_relu_diabetes_keras3_1.keras`, fileURLToPath(`${uploads.uri}/${key}`));
    const budget = localLimits().budget;
    // Each delivery finds no outcome and no version from this upload, then pushes: two versions before.
    const outcomes = await Promise.all([importObject(uploads, registry, key, budget), importObject(uploads, registry, key, budget)]);
    expect(outcomes).toEqual([expect.objectContaining({ status: 'created', version: 1 }), expect.objectContaining({ status: 'created', version: 1 })]);
    expect(await listVersions(registry, 'diabetes')).toEqual([1]);
    // The delivery that lost removed what it staged (a folder store lets it): nothing under versions/ but version 1.
    const stored: string[] = [];
    for await (const object of listAll(registry, 'diabetes/versions/')) stored.push(object.key);
    expect(stored.filter((k) => !k.startsWith('diabetes/versions/1/'))).toEqual([]);
  });

  /** The uploads store, where `before(method, call)` runs before each call of get, getStream or head (a second upload landing then). */
  function racing(uploads: ObjectStore, before: (method: string, call: number) => Promise<void>): ObjectStore {
    let calls = 0;
    return new Proxy(uploads, {
      get(target, method) {
        const member = Reflect.get(target, method);
        if (typeof member !== 'function') return member;
        if (method !== 'get' && method !== 'getStream' && method !== 'head') return member.bind(target);
        return async (...args: unknown[]) => {
          calls += 1;
          await before(method, calls);
          return member.apply(target, args);
        };
      },
    });
  }

  it("an upload replaced before its event's run reads it: that run makes no version and no outcome, and the new upload's run imports the new bytes", async () => {
    const registry = await tempFolderStore();
    const uploads = await tempFolderStore();
    const key = 'imports/diabetes/model.keras';
    const [older, newer] = await Promise.all([fixture('mlp_relu_diabetes_keras3_1.keras'), fixture('lstm_timeseries_keras3_3.keras')]);
    await uploads.put(key, older);
    const replacedOnRead = racing(uploads, async (method) => {
      if (method !== 'head') await uploads.put(key, newer);
    });
    // Before, the run read the newer bytes and recorded them under the older upload's ETag.
    expect(await importObject(replacedOnRead, registry, key, localLimits().budget)).toBeUndefined();
    expect(await listVersions(registry, 'diabetes')).toEqual([]);
    expect(await uploads.head(`${key}.outcome.json`)).toBeUndefined();
    const outcome = await importObject(uploads, registry, key, localLimits().budget);
    expect(outcome).toMatchObject({ status: 'created', version: 1, source: { etag: versionOf((await uploads.head(key))!) } });
    expect((await readManifest(registry, 'diabetes', 1)).lineage.sourceSha256).toBe(createHash('sha256').update(newer).digest('hex'));
  });

  it("an upload replaced while its event's run imports it: the run's outcome does not overwrite the new upload's", async () => {
    const registry = await tempFolderStore();
    const uploads = await tempFolderStore();
    const key = 'imports/diabetes/model.keras';
    const [older, newer] = await Promise.all([fixture('mlp_relu_diabetes_keras3_1.keras'), fixture('lstm_timeseries_keras3_3.keras')]);
    await uploads.put(key, older);
    // The newer upload lands after the older one was read, before its outcome is written; its own run then finishes first.
    const replacedLate = racing(uploads, async (method, call) => {
      if (method === 'head' && call > 1 && (await uploads.head(key))?.size === older.byteLength) {
        await uploads.put(key, newer);
        await importObject(uploads, registry, key, localLimits().budget);
      }
    });
    expect(await importObject(replacedLate, registry, key, localLimits().budget)).toMatchObject({ status: 'created', version: 1 });
    const stored = JSON.parse(new TextDecoder().decode(await uploads.get(`${key}.outcome.json`)));
    expect(stored).toMatchObject({ status: 'created', version: 2, source: { etag: versionOf((await uploads.head(key))!) } });
  });

  it('a zip bomb: refused from the sizes its zip directory declares, with the figures, before anything is inflated', async () => {
    const uploads = await tempFolderStore();
    const key = 'imports/bomb/model.keras';
    await uploads.put(key, declaring(zipSync(unzipSync(await fixture('mlp_relu_diabetes_keras3_1.keras'))), 'model.weights.h5', 600 * 2 ** 20));
    const outcome = await importObject(uploads, store, key, localLimits().budget);
    expect(outcome).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(
        /^imports\/bomb\/model\.keras is \d+ KB and inflates to 600 MB \(its zip directory says so\); importing it needs about 48\d\d MB \(8 working copies of its content\), more than \d+ MB \(a 2048 MB function, /,
      ),
    });
    expect(await listVersions(store, 'bomb').catch(() => [])).toEqual([]);
  });

  it('an entry that inflates past what the zip directory declares is inflated no further', async () => {
    const entries = unzipSync(await fixture('mlp_relu_diabetes_keras3_1.keras'));
    const declared = entries['model.weights.h5'].length - 100;
    const lying = declaring(zipSync(entries), 'model.weights.h5', declared);
    expect(unzipSync(lying)['model.weights.h5'].length).toBe(declared);
    const uploads = await tempFolderStore();
    await uploads.put('imports/lying/model.keras', lying);
    expect(await importObject(uploads, store, 'imports/lying/model.keras', localLimits().budget)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/model\.weights\.h5/),
    });
  });

  it('a model file right under imports/ (no model folder) gets a failed outcome saying where it belongs, and no version', async () => {
    const uploads = await tempFolderStore();
    await cp(`${FIXTURES}/mlp_relu_diabetes_keras3_1.keras`, fileURLToPath(`${uploads.uri}/imports/model.keras`));
    const objects = async () => {
      let count = 0;
      for await (const _ of listAll(store, '')) count += 1;
      return count;
    };
    const before = await objects();
    const outcome = await importObject(uploads, store, 'imports/model.keras', localLimits().budget);
    expect(outcome).toMatchObject({
      status: 'failed',
      error: "imports/model.keras is not in a model's folder: put it at imports/{model}/model.keras, where {model} is the name of the model it becomes a version of",
    });
    expect(JSON.parse(new TextDecoder().decode(await uploads.get('imports/model.keras.outcome.json')))).toEqual(outcome);
    expect(await objects()).toBe(before);
  });
});
