import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { startS3rver } from '../helpers/s3rver.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeGraphModel, writeImageModel, writeLayersModel } from '../helpers/tinyModels.js';

const run = promisify(execFile);
const modelctl = path.resolve('bin/modelctl.js');

async function ctl(...args: [{ env: NodeJS.ProcessEnv; timeout?: number }, ...string[]] | string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const [options, rest] = typeof args[0] === 'string' ? [{}, args as string[]] : [args[0], args.slice(1) as string[]];
  try {
    const { stdout, stderr } = await run(modelctl, rest, options);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

/** A store for pushes that must be refused: nothing is ever written to it (the repo's models/ is the default store). */
const refusedStore = path.join(tmpdir(), `modelctl-refused-${process.pid}`);
/** A vocabulary for the text flags' rows (the table is built when the file loads). */
const words = path.join(tmpdir(), `modelctl-words-${process.pid}.txt`);
writeFileSync(words, 'free\nmoney\n');

describe('modelctl', () => {
  it('lists the demo models in the repo with versions, aliases and test metrics', async () => {
    const { stdout, code } = await ctl('list', '--json');
    expect(code).toBe(0);
    const rows = JSON.parse(stdout) as { model: string; version: number; aliases: string; metrics: Record<string, number> }[];
    const byModel = Object.fromEntries(rows.map((r) => [r.model, r]));
    for (const name of ['iris', 'spam', 'housing', 'digits']) {
      expect(byModel[name], name).toMatchObject({ version: 1, aliases: expect.stringContaining('production') });
    }
    expect(byModel.iris.metrics.accuracy).toBeGreaterThan(0.9);
    expect(byModel.spam.metrics.accuracy).toBeGreaterThan(0.9);
    expect(byModel.digits.metrics.accuracy).toBeGreaterThan(0.9);
    expect(byModel.housing.metrics.r2).toBeGreaterThan(0.6);
  });

  it('pushes, shows, promotes and rolls back on any store', async () => {
    const store = (await tempFolderStore()).uri;
    const [layers, graph] = await Promise.all([writeLayersModel(), writeGraphModel()]);
    expect((await ctl('--store', store, 'push', layers, '--name', 'demo', '--labels', 'a,b,c', '--alias', 'production')).stdout).toMatch(
      /pushed demo:1 \(layers, classification\)[\s\S]*alias production -> 1/,
    );
    expect((await ctl('--store', store, 'push', graph, '--name', 'demo')).stdout).toMatch(/pushed demo:2 \(graph, classification\)/);
    expect(JSON.parse((await ctl('--store', store, 'show', 'demo@production')).stdout)).toMatchObject({
      version: 1,
      labels: ['a', 'b', 'c'],
      versions: [1, 2],
      scores: 'probabilities',
    });
    // What the outputs hold, when the push is told: printed back, and kept.
    expect((await ctl('--store', store, 'push', layers, '--name', 'logits', '--labels', 'a,b,c', '--scores', 'logits')).stdout).toMatch(
      /pushed logits:1 \(layers, classification, scores from logits\)/,
    );
    expect(JSON.parse((await ctl('--store', store, 'show', 'logits')).stdout)).toMatchObject({ scores: 'logits' });
    expect((await ctl('--store', store, 'promote', 'demo', '2', '--alias', 'production')).stdout).toMatch(/demo@production -> 2 \(was 1\)/);
    // Promoted again to where it is: nothing moves, and the answer does not say it "was" 1.
    expect((await ctl('--store', store, 'promote', 'demo', '2', '--alias', 'production')).stdout).toBe('demo@production -> 2 (already; unchanged)\n');
    expect((await ctl('--store', store, 'rollback', 'demo', '--alias', 'production', '--from', '2')).stdout).toMatch(/demo@production -> 1 \(rolled back\)/);
    // Run again (as after a lost answer), --from keeps it from a second step back.
    const again = await ctl('--store', store, 'rollback', 'demo', '--alias', 'production', '--from', '2');
    expect([again.code, again.stderr.trim()]).toEqual([1, 'modelctl: alias production of demo points at version 1, not 2: nothing was rolled back']);
    expect(JSON.parse((await ctl('--store', store, 'show', 'demo')).stdout).version).toBe(1);
    // Shown by its alias, the record comes along: the moves behind it, newest first (none left: the rollback took the one there was).
    const byAlias = JSON.parse((await ctl('--store', store, 'show', 'demo@production')).stdout);
    expect(byAlias.alias).toEqual({ name: 'production', version: 1, previous: [], updatedAt: expect.any(String) });
    expect(JSON.parse((await ctl('--store', store, 'show', 'demo')).stdout)).not.toHaveProperty('alias');
    // unalias: --from guards it; removed, the bare model is its highest version (no production left).
    const guarded = await ctl('--store', store, 'unalias', 'demo', '--alias', 'production', '--from', '2');
    expect([guarded.code, guarded.stderr.trim()]).toEqual([1, 'modelctl: alias production of demo points at version 1, not 2: nothing was deleted']);
    expect((await ctl('--store', store, 'unalias', 'demo', '--alias', 'production', '--from', '1')).stdout).toBe('demo@production removed (pointed at 1)\n');
    expect(JSON.parse((await ctl('--store', store, 'show', 'demo')).stdout).version).toBe(2);
    const twice = await ctl('--store', store, 'unalias', 'demo', '--alias', 'production', '--from', '1');
    expect([twice.code, twice.stderr.trim()]).toEqual([1, 'modelctl: model demo has no alias production (demo has versions 1, 2, no aliases)']);
    // A damaged production file names no version for --from: it is removed without one.
    await mkdir(path.join(fileURLToPath(store), 'demo/aliases'), { recursive: true });
    await writeFile(path.join(fileURLToPath(store), 'demo/aliases/production.json'), 'garbage');
    expect((await ctl('--store', store, 'unalias', 'demo', '--alias', 'production')).stdout).toBe('demo@production removed (its file was damaged)\n');
  });

  it('refuses a malformed model, version or alias as a usage mistake (exit 2), and one the store does not hold as a refusal naming what it holds (exit 1)', async () => {
    const store = (await tempFolderStore()).uri;
    await cp('models/iris', path.join(fileURLToPath(store), 'iris'), { recursive: true });
    const cases: [string[], number, RegExp][] = [
      [['promote', 'iris', 'abc', '--alias', 'production'], 2, /^modelctl: invalid version "abc": expected an integer from 1$/],
      [['promote', 'iris', '7', '--alias', 'production'], 1, /^modelctl: model iris has no version 7 \(iris has version 1, aliases production -> 1\)$/],
      [['promote', 'iris', '1', '--alias', 'Prod'], 2, /^modelctl: invalid alias name "Prod": expected /],
      // A model the store does not hold is named as such, as show names it (not as a missing version).
      [['promote', 'nomodel', '1', '--alias', 'production'], 1, /^modelctl: no model named nomodel \(modelctl list shows the models this store holds\)$/],
      [['rollback', 'iris', '--alias', 'latest'], 2, /^modelctl: alias latest is implicit/],
      [['rollback', 'iris', '--alias', 'production', '--from', 'two'], 2, /^modelctl: invalid version "two": expected an integer from 1$/],
      [
        ['unalias', 'iris', '--alias', 'production'],
        2,
        /^modelctl: removing production changes what requests naming no version of iris get \(its highest version\): name the version it points at with --from N$/,
      ],
      [['unalias', 'iris', '--alias', 'latest'], 2, /^modelctl: alias latest is implicit \(the highest version\) and cannot be set or removed$/],
      [['rollback', 'iris', '--alias', 'staging'], 1, /^modelctl: model iris has no alias staging \(iris has version 1, aliases production -> 1\)$/],
      [['show', 'nomodel'], 1, /^modelctl: no model named nomodel \(modelctl list shows the models this store holds\)$/],
      // prune never takes what a writer still running may commit; nor an age it cannot read.
      [['prune', '--older-than', '10m'], 2, /^modelctl: option '--older-than <age>' argument '10m' is invalid\. expected at least 15m: /],
      [
        ['prune', '--older-than', '1 day'],
        2,
        /^modelctl: option '--older-than <age>' argument '1 day' is invalid\. expected an age such as 90m, 24h or 7d\.\n\(add --help for usage\)$/,
      ],
      [['prune', 'nomodel'], 1, /^modelctl: no model named nomodel \(modelctl list shows the models this store holds\)$/],
      [['show', 'iris:x1'], 2, /^modelctl: invalid version "x1": expected an integer from 1$/],
      [['evaluate', 'iris@nope', '--data', 'models/_datasets/iris-test.csv', '--label-column', 'species'], 1, /^modelctl: model iris has no alias nope \(iris has version 1/],
      // push checks --name and --alias before it reads or writes anything: no version 2 is left behind.
      [['push', 'models/iris/versions/1', '--name', 'iris', '--alias', 'BAD'], 2, /^modelctl: invalid alias name "BAD": expected /],
      [['push', 'models/iris/versions/1', '--name', 'iris', '--alias', 'latest'], 2, /^modelctl: alias latest is implicit/],
      [['push', 'models/iris/versions/1', '--name', 'Iris'], 2, /^modelctl: invalid model name "Iris": expected /],
      // A new alias may not be a number (iris@7 would read as version 7): refused before a version is written.
      [['push', 'models/iris/versions/1', '--name', 'iris', '--alias', '7'], 2, /^modelctl: alias "7" is a number, which reads as a version/],
    ];
    for (const [args, exitCode, message] of cases) {
      const { stderr, code } = await ctl('--store', store, ...args);
      expect([args.join(' '), code, stderr.trim()]).toEqual([args.join(' '), exitCode, expect.stringMatching(message)]);
    }
    // Nothing moved, nothing written.
    expect(JSON.parse((await ctl('--store', store, 'show', 'iris@production')).stdout)).toMatchObject({ version: 1, versions: [1] });
  }, 120_000);

  it('pushes a .zip of a TF.js model folder, as imports/ takes it: the same files as the folder, and the same metrics', async () => {
    const store = (await tempFolderStore()).uri;
    const folder = 'models/iris/versions/1';
    const zip = path.join(await mkdtemp(path.join(tmpdir(), 'modelctl-zip-')), 'iris.zip');
    const entries = Object.fromEntries(await Promise.all(['model.json', 'weights.bin'].map(async (f) => [`iris/${f}`, new Uint8Array(await readFile(path.join(folder, f)))])));
    await writeFile(zip, zipSync(entries));
    const flags = ['--features', 'sepal_length,sepal_width,petal_length,petal_width', '--labels', 'setosa,versicolor,virginica'];
    expect((await ctl('--store', store, 'push', zip, '--name', 'zipped', ...flags)).stdout).toMatch(/^pushed zipped:1 \(layers, classification\)/);
    const shown = JSON.parse((await ctl('--store', store, 'show', 'zipped')).stdout);
    expect(shown.files).toEqual(JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')).files);
    expect(shown.lineage).toMatchObject({ source: zip, sourceFormat: 'tfjs-zip' });
    const evaluated = await ctl('--store', store, 'evaluate', 'zipped', '--data', 'models/_datasets/iris-test.csv', '--label-column', 'species', '--json');
    expect(JSON.parse(evaluated.stdout).metrics.accuracy).toBe(1);
  });

  it('--skip-unchanged makes no version when the highest holds the same files and settings (a deploy pushing on every run), and one when anything differs', async () => {
    const store = (await tempFolderStore()).uri;
    const copy = path.join(await mkdtemp(path.join(tmpdir(), 'modelctl-same-')), 'iris');
    await cp('models/iris/versions/1', copy, { recursive: true });
    const flags = ['--features', 'sepal_length,sepal_width,petal_length,petal_width', '--labels', 'setosa,versicolor,virginica', '--skip-unchanged'];
    const push = (from: string, ...more: string[]) => ctl('--store', store, 'push', from, '--name', 'iris', ...flags, ...more);
    expect((await push('models/iris/versions/1', '--alias', 'production')).stdout).toMatch(/^pushed iris:1 /);
    // The same files from another folder: no version, and the alias asked for points at the one that holds them.
    const again = await push(copy, '--alias', 'staging');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^unchanged: iris:1 in \S+ holds these files and settings; no version made \(--skip-unchanged\)$/m);
    expect(again.stdout).toMatch(/^alias staging -> 1$/m);
    // Other settings, or other weights, make a version; so does a push without the flag.
    expect((await push(copy, '--labels', 'a,b,c')).stdout).toMatch(/^pushed iris:2 /);
    expect((await push(copy)).stdout).toMatch(/^pushed iris:3 /);
    const weights = path.join(copy, 'weights.bin');
    const bytes = await readFile(weights);
    bytes.writeFloatLE(bytes.readFloatLE(0) + 0.5, 0);
    await writeFile(weights, bytes);
    expect((await push(copy)).stdout).toMatch(/^pushed iris:4 /);
    expect((await ctl('--store', store, 'push', 'models/iris/versions/1', '--name', 'iris', ...flags.slice(0, -1))).stdout).toMatch(/^pushed iris:5 /);
    expect(JSON.parse((await ctl('--store', store, 'show', 'iris@staging')).stdout).version).toBe(1);
    // Zips of the same files made at other times (their entries' dates differ, and so their sha256) hold the same version.
    const entries = Object.fromEntries(await Promise.all(['model.json', 'weights.bin'].map(async (f) => [`iris/${f}`, new Uint8Array(await readFile(path.join(copy, f)))])));
    const zips = await Promise.all(
      ['2026-01-01', '2026-06-01'].map(async (day) => {
        const zip = path.join(path.dirname(copy), `${day}.zip`);
        await writeFile(zip, zipSync(entries, { mtime: new Date(day) }));
        return zip;
      }),
    );
    expect((await push(zips[0])).stdout).toMatch(/^pushed iris:6 /);
    expect((await push(zips[1])).stdout).toMatch(/^unchanged: iris:6 /);
  });

  it('pushes a TF.js model by its .json file, as packages ship several models in one folder (name.json beside name.bin)', async () => {
    const store = (await tempFolderStore()).uri;
    const folder = await writeGraphModel();
    await rename(path.join(folder, 'model.json'), path.join(folder, 'detector.json'));
    expect((await ctl('--store', store, 'push', folder, '--name', 'byfolder')).stderr).toMatch(/has no model\.json/);
    expect((await ctl('--store', store, 'push', path.join(folder, 'detector.json'), '--name', 'byfile')).stdout).toMatch(/pushed byfile:1 \(graph, classification\)/);
    await rename(path.join(folder, 'detector.json'), path.join(folder, 'model.json'));
    expect((await ctl('--store', store, 'push', folder, '--name', 'byfolder')).code).toBe(0);
    const [byFile, byFolder] = await Promise.all(['byfile', 'byfolder'].map(async (name) => JSON.parse((await ctl('--store', store, 'show', name)).stdout)));
    expect(byFile.signature).toEqual(byFolder.signature);
    expect(byFile.files).toEqual(byFolder.files);
    // A .json file that is not a model is named as the user gave it.
    await writeFile(path.join(folder, 'notes.json'), '{}');
    expect((await ctl('--store', store, 'push', path.join(folder, 'notes.json'), '--name', 'notes')).stderr).toMatch(/notes\.json has no modelTopology/);
  });

  it('sets the preprocessing from flags, prints what it stored, and refuses bad flags writing nothing', async () => {
    const store = await tempFolderStore();
    const layers = await writeLayersModel();
    const features = await ctl(
      '--store',
      store.uri,
      'push',
      layers,
      '--name',
      'flowers',
      '--labels',
      'a,b,c',
      '--features',
      'f1,f2,f3,f4',
      '--mean',
      '1,2,3,4',
      '--std',
      '1,1,2,2',
    );
    expect(features.stdout).toMatch(/preprocessing: .*"kind":"tabular".*"name":"f1","mean":1,"std":1.*"standardize":true/);
    const shown = JSON.parse((await ctl('--store', store.uri, 'show', 'flowers', '--full')).stdout);
    expect(shown.transforms.input.features.map((f: { std: number }) => f.std)).toEqual([1, 1, 2, 2]);
    const image = await ctl(
      '--store',
      store.uri,
      'push',
      await writeImageModel(2, 2, 1),
      '--name',
      'pictures',
      '--image',
      '2x2x1',
      '--resize',
      'nearest',
      '--half-pixel-centers',
      '--fit',
      'cover',
      '--mean',
      '0.5',
      '--std',
      '0.25',
    );
    expect(image.stdout).toMatch(
      // alpha: a PNG's transparency is dropped unless the push says otherwise (the schema alone reads an older manifest over white).
      /preprocessing: .*"kind":"image","width":2,"height":2,"channels":1,"alpha":"drop","resize":"nearest","alignCorners":false,"halfPixelCenters":true,"fit":"cover".*"mean":0.5,"std":0.25/,
    );
    for (const bad of [
      ['--image', '224x224x3', '--align-corners', '--half-pixel-centers'],
      ['--image', '224x224x3', '--mean', '0.1,0.2'],
      ['--image', '224x224'],
      ['--fit', 'cover'],
      ['--features', 'a,b', '--mean', '1'],
      ['--features', 'a,b,c'],
      ['--image', '2x2x1'],
    ]) {
      const refused = await ctl('--store', store.uri, 'push', layers, '--name', 'refused', ...bad);
      expect(refused.code, bad.join(' ')).not.toBe(0);
      expect(refused.stderr).toMatch(/halfPixelCenters|mean has 2 values|--image: expected|need the input kind|--mean: 1 values for 2 features|makes rows of shape/);
      expect(refused.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await ctl('--store', store.uri, 'show', 'refused')).stderr).toMatch(/no model named refused/);
  });

  it.each([
    // Operational: the store or the model says no (exit 1).
    [['show', 'nope'], /modelctl: no model named nope/, 1],
    [['list', 'nope'], /modelctl: no model named nope/, 1],
    [['promote', 'iris', '99', '--alias', 'production'], /has no version 99/, 1],
    [['push', 'models/iris/aliases', '--name', 'x'], /has no model.json/, 1],
    [['push', 'README.md', '--name', 'x'], /neither a \.keras file/, 1],
    [['--store', refusedStore, 'push', 'models/iris/versions/1', '--name', 'iris2', '--labels', 'a,b,a'], /modelctl: label "a" is given twice/, 1],
    // Usage: the command line asks for what cannot be (exit 2), named by its option or file.
    // Found once the model is read: an output it does not have, as an explain --target.
    [
      ['--store', refusedStore, 'push', 'models/iris/versions/1', '--name', 'iris2', '--output', 'bogus'],
      /^modelctl: --output: output "bogus" is not one of the model's: its outputs are "probabilities"$/m,
      2,
    ],
    [['push', '.', '--name', '../evil'], /invalid model name/, 2],
    [['push', '/nonexistent', '--name', 'x'], /\/nonexistent: no such folder or file/, 2],
    [['list', '--bogus'], /modelctl: unknown option '--bogus'/, 2],
    [['push', 'models/iris/versions/1', '--name', 'x', '--task', 'nope'], /--task <task>' argument 'nope' is invalid\. Allowed choices are classification, binary, regression/, 2],
    [
      ['push', 'models/iris/versions/1', '--name', 'x', '--scores', 'odds'],
      /--scores <kind>' argument 'odds' is invalid\. Allowed choices are probabilities, log-probabilities, logits/,
      2,
    ],
    [
      ['--store', refusedStore, 'push', 'models/housing/versions/1', '--name', 'x', '--task', 'regression', '--scores', 'logits'],
      /modelctl: scores logits: a regression's outputs are values/,
      1,
    ],
    [['push', 'models/digits/versions/1', '--name', 'x', '--image', '28x28x1', '--crop', '0,0,1'], /modelctl: --crop: expected top,left,bottom,right \(4 fractions/, 2],
    [
      ['push', 'models/digits/versions/1', '--name', 'x', '--image', '28x28x1', '--crop', '0,0.1,0.9,0.9', '--fit', 'cover'],
      /modelctl: --crop: crop resizes its box to the model's size \(fit stretch\); fit cover fits the whole image/,
      2,
    ],
    [['push', 'models/iris/versions/1', '--name', 'x', '--vocabulary', '/missing'], /modelctl: --vocabulary \/missing: no such file/, 2],
    [['push', 'models/iris/versions/1', '--name', 'x', '--meta', '/missing'], /modelctl: --meta \/missing: no such file/, 2],
    [['push', 'models/iris/versions/1', '--name', 'x', '--meta', 'README.md'], /modelctl: --meta README\.md: not JSON/, 2],
    [['batch', 'models/_datasets/iris-test.csv', '--model', 'iris', '--out', 'unused', '--workers', '0'], /--workers must be a whole number of at least 1, got 0/, 2],
    [
      ['batch', 'models/_datasets/iris-test.csv', '--model', 'iris', '--out', 'unused', '--range-timeout', '0'],
      /--range-timeout must be a positive number of seconds, at most 2147483 \(24\.8 days\), got 0/,
      2,
    ],
    [
      ['batch', 'models/_datasets/iris-test.csv', '--model', 'iris', '--out', 'unused', '--range-timeout', '1e9'],
      /--range-timeout must be a positive number of seconds, at most 2147483/,
      2,
    ],
    [['explain', 'iris:1', '--instance', '[1,2,3,4]', '--steps', 'abc'], /--steps <n>' argument 'abc' is invalid\. expected a number/, 2],
    [['explain', 'iris:1', '--instance', '[1,2,3,4]', '--method', 'nope'], /modelctl: --method: Invalid option: expected one of "integratedGradients"/, 2],
    [['explain', 'iris:1', '--instance', '[1,2,3,4]', '--method', 'kernelShap', '--n-samples', '0'], /modelctl: --n-samples: Too small/, 2],
    [['explain', 'digits:1', '--image', '/missing.png'], /modelctl: --image \/missing\.png: no such file/, 2],
    [['evaluate', 'iris', '--data', 'models/_datasets/iris-test.csv', '--top-k', '0'], /modelctl: --top-k: Too small/, 2],
    [['evaluate', 'iris', '--data', 'models/_datasets/iris-test.csv', '--threshold', 'abc'], /--threshold <p>' argument 'abc' is invalid/, 2],
    [
      ['evaluate', 'spam', '--data', 'models/_datasets/spam-test.jsonl', '--top-k', '2'],
      /^modelctl: --top-k: spam is a binary model; top-k accuracy applies to multiclass models only$/m,
      2,
    ],
    [
      ['evaluate', 'iris', '--data', 'models/_datasets/iris-test.csv', '--threshold', '0.7'],
      /^modelctl: --threshold: iris is a classification model; a threshold applies to binary models only/m,
      2,
    ],
    // An option the model or the data set cannot take, found once they are read: a usage error too (it was exit 1).
    [
      ['evaluate', 'iris', '--data', 'models/_datasets/iris-test.csv'],
      /^modelctl: --label-column: label column "label" not found; the data set has columns sepal_length, sepal_width, petal_length, petal_width, species$/m,
      2,
    ],
    [
      ['evaluate', 'spam', '--data', 'models/_datasets/spam-test.jsonl', '--label-column', 'truth'],
      /^modelctl: --label-column: label column "truth" not found; the data set has columns text, label$/m,
      2,
    ],
    [['explain', 'iris:1', '--instance', '[1,2,3,4]', '--target', 'rose'], /^modelctl: --target: "rose" is not a label of this model: expected one of "setosa"/m, 2],
    [['explain', 'iris:1', '--instance', '[1,2,3,4]', '--baseline', '[1,2]'], /^modelctl: --baseline: expected 4 numbers \(one row of model inputs, shape \[4\]\), got 2$/m, 2],
    [
      ['explain', 'iris:1', '--instance', '[1,2,3,4]', '--png', path.join(tmpdir(), 'unused.png')],
      /^modelctl: --png: iris is not an image model; its attributions have no heatmap$/m,
      2,
    ],
    [['evaluate', 'iris', '--data', 'models/_datasets/iris-test.csv', '--html', '/missing-dir/x.html'], /modelctl: --html \/missing-dir\/x\.html: no folder \/missing-dir/, 2],
    [['evaluate', 'iris', '--data', '/nonexistent.csv'], /modelctl: --data \/nonexistent\.csv: no such file/, 2],
    [['evaluate', 'iris', '--data', 'README.md'], /modelctl: --data README\.md: expected a \.csv, \.jsonl or \.ndjson file$/m, 2],
    [['batch', '/nonexistent.csv', '--model', 'iris', '--out', 'unused'], /modelctl: \/nonexistent\.csv: no such file/, 2],
    [
      ['push', 'models/iris/versions/1', '--name', 'x', '--image', '0x28x1'],
      /modelctl: --image: expected WIDTHxHEIGHTxCHANNELS with sides of at least 1 and 1 or 3 channels, e\.g\. 224x224x3, or anyxCHANNELS to take each image at its own size, got "0x28x1"/,
      2,
    ],
    // A preprocessing flag's value is checked by the input kind's schema before the push (it was an invalid manifest, exit 1).
    ...(
      [
        [['--fit', 'bogus'], /^modelctl: --fit must be one of stretch, cover, contain, mnist, got "bogus"$/m],
        [['--resize', 'bogus'], /^modelctl: --resize must be one of bilinear, nearest, area, got "bogus"$/m],
        [['--invert', 'bogus'], /^modelctl: --invert must be one of never, always, auto, got "bogus"$/m],
        [['--alpha', 'black'], /^modelctl: --alpha must be one of drop, white, got "black"$/m],
        [['--channel-order', 'xyz'], /^modelctl: --channel-order must be one of rgb, bgr, got "xyz"$/m],
        [['--fill', '300'], /^modelctl: --fill: Too big: expected number to be <=255, got "300"$/m],
        [['--std', '0'], /^modelctl: --std: std must be positive, got "0"$/m],
        [['--std', '1,2'], /^modelctl: --std: std has 2 values; the image has 3 channel\(s\): give one number or one per channel, got "1,2"$/m],
      ] as const
    ).map(([flags, message]) => [['--store', refusedStore, 'push', 'models/digits/versions/1', '--name', 'e1', '--image', '224x224x3', ...flags], message, 2] as const),
    [
      ['--store', refusedStore, 'push', 'models/iris/versions/1', '--name', 'e1', '--features', 'a,b,c,d', '--std', '1,0,1,1'],
      /^modelctl: --std value 2 \(feature b\): Too small: expected number to be >0, got "1,0,1,1"$/m,
      2,
    ],
    [
      ['--store', refusedStore, 'push', 'models/spam/versions/1', '--name', 'e1', '--vocabulary', words, '--token-pattern', '[a-z'],
      /^modelctl: --token-pattern: must be a regular expression \(JavaScript syntax\), got "\[a-z"$/m,
      2,
    ],
    [['--store', 'ftp://x', 'list'], /--store <uri>' argument 'ftp:\/\/x' is invalid\. expected s3:\/\/bucket\[\/prefix\], file:\/\/path or a folder path/, 2],
  ] as const)('modelctl %j fails with a clear message', async (args, message, exitCode) => {
    const { stderr, code } = await ctl(...args);
    expect(code).toBe(exitCode);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace for a user error
  });

  it('evaluates a data file whose name has a space in it', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'modelctl data '));
    await copyFile('models/_datasets/iris-test.csv', path.join(folder, 'my flowers.csv'));
    const { stdout, code } = await ctl('evaluate', 'iris', '--data', path.join(folder, 'my flowers.csv'), '--label-column', 'species');
    expect(code).toBe(0);
    expect(stdout).toMatch(/30 rows/);
  });

  it('refuses a batch --out that is a file, or inside one, before any worker starts: one line naming --out, exit 2', async () => {
    const file = path.resolve('README.md');
    for (const [out, why] of [
      ['README.md', 'is a file, not a folder'],
      ['README.md/out', `${file} is a file, not a folder`],
      [pathToFileURL(file).href, 'is a file, not a folder'],
    ]) {
      const { stdout, stderr, code } = await ctl('batch', 'models/_datasets/iris-test.csv', '--model', 'iris', '--out', out);
      expect([code, stderr, stdout]).toEqual([2, `modelctl: --out ${out.startsWith('file:') ? file : out}: ${why}\n`, '']);
    }
  });

  it('refuses a batch --out where the system makes no folder (/proc, /proc/x) in one line, exit 2, at once: it hung in mkdir -p', async () => {
    for (const out of ['/proc/x', '/proc']) {
      const started = performance.now();
      // Killed if it hangs, as Node 20's recursive mkdir did for ever on these paths.
      const { stdout, stderr, code } = await ctl({ env: process.env, timeout: 30_000 }, 'batch', 'models/_datasets/iris-test.csv', '--model', 'iris', '--out', out);
      expect([code, stderr, stdout]).toEqual([2, `modelctl: --out ${out}: no folder can be made in /proc (ENOENT)\n`, '']);
      expect(performance.now() - started).toBeLessThan(20_000); // a modelctl start and a model read; the hang was endless
    }
  });

  it("refuses a truncated .h5 in one line saying what HDF5 found, without the HDF5 library's own diagnostics", async () => {
    const bytes = await readFile('test/fixtures/keras/resnet8_cifar10_keras2_4.h5');
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'modelctl-h5-')), 'cut.h5');
    await writeFile(file, bytes.subarray(0, 5000));
    const { stdout, stderr, code } = await ctl('--store', refusedStore, 'push', file, '--name', 'cut');
    expect([code, stdout]).toEqual([1, '']);
    expect(stderr).toBe(`modelctl: ${file} cannot be read as HDF5 (damaged or truncated?): truncated file: eof = 5000, sblock->base_addr = 0, stored_eof = ${bytes.length}\n`);
  });

  it('stops quietly when what reads its output closes early (| head): no EPIPE stack trace, exit 0', async () => {
    // digits' full manifest (its background sample, 79 KB) is more than a pipe holds, so modelctl is still writing when head goes.
    const { stdout, stderr } = await run('bash', ['-c', `"${modelctl}" show digits --full | head -c 10 >/dev/null; echo "exit \${PIPESTATUS[0]}"`]);
    expect([stdout, stderr]).toEqual(['exit 0\n', '']);
  });

  it('takes a folder path as the store, as file:// of it', async () => {
    const { stdout, code } = await ctl('--store', 'models', 'list', 'iris');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^iris\s+1\s+classification\s+production,latest/m);
  });

  it('refuses a store folder that is not there as a usage mistake naming the folder (exit 2), not an empty store; push makes a new one inside a folder that exists', async () => {
    const parent = await mkdtemp(path.join(tmpdir(), 'modelctl-stores-'));
    const missing = path.join(parent, 'modles');
    const commands = [
      ['list'],
      ['show', 'iris'],
      ['promote', 'iris', '1', '--alias', 'production'],
      ['rollback', 'iris', '--alias', 'production'],
      ['evaluate', 'iris', '--data', 'models/_datasets/iris-test.csv', '--label-column', 'species'],
      ['explain', 'iris:1', '--instance', '[5.1,3.5,1.4,0.2]'],
      ['batch', 'models/_datasets/iris-test.csv', '--model', 'iris', '--out', path.join(parent, 'out')],
    ];
    for (const args of commands) {
      const { stdout, stderr, code } = await ctl('--store', missing, ...args);
      expect([args[0], code, stderr.trim(), stdout]).toEqual([args[0], 2, `modelctl: --store: no folder ${missing}`, '']);
    }
    const fromEnvironment = await ctl({ env: { ...process.env, MODEL_STORE_URI: pathToFileURL(missing).href } }, 'list');
    expect([fromEnvironment.code, fromEnvironment.stderr.trim()]).toEqual([2, `modelctl: MODEL_STORE_URI: no folder ${missing}`]);
    const aFile = await ctl('--store', 'README.md', 'list');
    expect([aFile.code, aFile.stderr.trim()]).toEqual([2, `modelctl: --store: ${path.resolve('README.md')} is a file, not a store folder`]);
    // push makes the store folder a new store starts with, but not the folders above it (a path mistyped further up).
    const deep = await ctl('--store', path.join(missing, 'models'), 'push', 'models/iris/versions/1', '--name', 'iris');
    expect([deep.code, deep.stderr.trim()]).toEqual([2, `modelctl: --store: no folder ${missing} to make the store models in`]);
    expect((await ctl('--store', missing, 'push', 'models/iris/versions/1', '--name', 'iris')).stdout).toMatch(/^pushed iris:1 \(layers, classification\)/);
    expect((await ctl('--store', missing, 'list')).stdout).toMatch(/^iris\s+1\s+classification\s+latest/m);
    await rm(parent, { recursive: true, force: true });
  }, 120_000);

  it('says in one line that an S3 bucket does not exist, and shows the stack with --verbose', async () => {
    const s3 = await startS3rver();
    try {
      const env = {
        ...process.env,
        S3_ENDPOINT: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.s3Options.credentials?.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.s3Options.credentials?.secretAccessKey,
      };
      const { stderr, code } = await ctl({ env }, '--store', 's3://nonexistent-bucket/models', 'list');
      expect(code).toBe(1);
      // One line, on Node 20 too: not after the AWS SDK's notice that its later releases need Node 22.
      expect(stderr).toBe('modelctl: AWS answered NoSuchBucket: The specified bucket does not exist (bucket nonexistent-bucket)\n');
      expect(stderr).not.toMatch(/\n\s+at /);
      expect((await ctl({ env }, '--verbose', '--store', 's3://nonexistent-bucket/models', 'list')).stderr).toMatch(/\n\s+at /);
      // A batch file in a bucket that does not exist: the bucket is named, as list names it, not "no file x.csv".
      const noBucket = await ctl({ env }, 'batch', 's3://nonexistent-bucket/x.csv', '--model', 'iris', '--out', `${s3.uri}out/`);
      expect([noBucket.code, noBucket.stderr]).toEqual([
        1,
        expect.stringMatching(/^modelctl: AWS answered NoSuchBucket: The specified bucket does not exist \(bucket nonexistent-bucket\)$/m),
      ]);
      // An s3:// file that is not there is the store's answer (exit 1); only a local one is a usage error.
      for (const args of [
        ['evaluate', 'iris', '--data', `${s3.uri}nothere.csv`],
        ['batch', `${s3.uri}nothere.csv`, '--model', 'iris', '--out', `${s3.uri}out/`],
      ]) {
        const missing = await ctl({ env }, ...args);
        expect(missing.code, args.join(' ')).toBe(1);
        expect(missing.stderr).toMatch(/nothere\.csv/);
        expect(missing.stderr).not.toMatch(/\n\s+at /);
      }
    } finally {
      await s3.stop();
    }
  });
});
