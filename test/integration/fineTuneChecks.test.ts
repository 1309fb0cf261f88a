/**
 * Fine-tune requests that cannot succeed are refused at submit (400, nothing stored); data-set rows
 * that do not fit fail the job as the client's error; an alias that cannot be moved after the
 * version is written is reported in the result; early stopping stops when TF.js's would.
 */
import { cp, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJob, runJob, updateJob, type Job } from '../../lib/jobs/index.js';
import { fineTuneJob } from '../../lib/ops/fineTune/executor.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { NON_FINITE_OUTPUT } from '../../lib/protocol/answers.js';
import { listVersions, readAlias, readManifest, setAlias } from '../../lib/registry/index.js';
import type { FolderStore } from '../../lib/store/folder.js';
import { listAll, type ObjectStore } from '../../lib/store/index.js';
import { call, serving, waitForJob, type App } from '../helpers/serving.js';
import { recording, tempFolderStore } from '../helpers/stores.js';
import { tfjsStopEpoch } from '../helpers/tfjsEarlyStopping.js';
import { writeLayersModel } from '../helpers/tinyModels.js';

let app: App;
let store: FolderStore;
let iris: { instances: Record<string, number>[]; labels: string[] };
const executors = { 'fine-tune': fineTuneJob };
const environment = (on: ObjectStore) => ({ store: on, loader: app.services.loader, limits: app.services.limits });

/** The test store, but a put of `key` fails with `message` (every other write goes through). */
function failingPut(key: string, message: string): ObjectStore {
  const failing = recording(store);
  const put = failing.put;
  failing.put = async (at, body, options) => {
    if (at === key) throw new Error(message);
    return put(at, body, options);
  };
  return failing;
}

interface Result {
  version: number;
  history: Record<string, number>[];
  promoted?: { alias: string; moved: boolean; reason: string; error?: string };
}

beforeAll(async () => {
  store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  app = serving(store.uri);
  const [header, ...lines] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
  const names = header.split(',').slice(0, 4);
  iris = {
    instances: lines.map((l) => Object.fromEntries(names.map((n, i) => [n, Number(l.split(',')[i])]))),
    labels: lines.map((l) => l.split(',')[4]),
  };
});

/** Versions of every model and the job records: what a refused request must leave as it was. */
async function stored(): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of listAll(store, '')) if (/\/versions\/|^_jobs\/|\/aliases\//.test(o.key)) keys.push(o.key);
  return keys.sort();
}

describe('fine-tune refuses at submit what the job could not do', () => {
  const housingRow = [0.05, 0, 5.19, 0, 0.515, 6.3, 38, 6.4, 5, 224, 20.2, 5.68];
  const narrow = Array.from({ length: 10 }, () => [5.1, 3.5, 1.4]);
  const setosas = narrow.map(() => 'setosa');
  it.each([
    [
      'promote.alias latest (setAlias refuses it)',
      'iris',
      () => ({ ...iris, promote: { alias: 'latest' } }),
      /promote\.alias: alias latest is implicit \(the highest version\) and cannot be set/,
    ],
    ['an invalid alias name', 'iris', () => ({ ...iris, promote: { alias: 'BAD' } }), /promote\.alias: invalid alias name "BAD"/],
    [
      'instances 3 wide for a model taking 4',
      'iris',
      () => ({ instances: narrow, labels: setosas, config: { epochs: 1 } }),
      /instances: input features: shape \[10,3\] does not fit the model's \[-1,4\]/,
    ],
    [
      'validation instances 3 wide',
      'iris',
      () => ({ ...iris, validation: { instances: narrow, labels: setosas }, config: { epochs: 1 } }),
      /validation\.instances: input features: shape \[10,3\] does not fit the model's \[-1,4\]/,
    ],
    [
      'a raw row after feature records (named by its index)',
      'iris',
      () => ({ instances: [...iris.instances.slice(0, 9), [5.1, 3.5, 1.4, 0.2]], labels: iris.labels.slice(0, 10) }),
      /^instances\[9\] is not an instance like instances\[0\]: /,
    ],
    [
      'a raw row after feature records in the validation data',
      'iris',
      () => ({ ...iris, validation: { instances: [iris.instances[0], [5.1, 3.5, 1.4, 0.2]], labels: iris.labels.slice(0, 2) } }),
      /^validation\.instances\[1\] is not an instance like validation\.instances\[0\]: /,
    ],
    [
      'one instance, too few to hold out a validation split',
      'iris',
      () => ({ instances: iris.instances.slice(0, 1), labels: iris.labels.slice(0, 1) }),
      /1 rows are too few to hold out 0.2 for validation/,
    ],
    [
      'an accuracy monitor on a regression model (it reports none)',
      'housing',
      () => ({ dataset: '_datasets/housing-test.csv', labelColumn: 'medv', config: { earlyStopping: { monitor: 'val_acc' } } }),
      /config\.earlyStopping\.monitor val_acc: housing is a regression model and reports no accuracy/,
    ],
    [
      'promote.ifBetter mse on a classifier (it reports none: undefined would be compared with undefined)',
      'iris',
      () => ({ dataset: '_datasets/iris-test.csv', labelColumn: 'species', promote: { alias: 'production', ifBetter: 'mse' } }),
      /promote\.ifBetter mse: iris is a classification model and reports no mse; compare on accuracy, logLoss, f1/,
    ],
    [
      'promote.ifBetter r2 to an alias not yet set (it would move, having compared nothing)',
      'spam',
      () => ({ dataset: '_datasets/spam-test.jsonl', promote: { alias: 'candidate', ifBetter: 'r2' } }),
      /promote\.ifBetter r2: spam is a binary model and reports no r2; compare on accuracy, logLoss, f1/,
    ],
    [
      'promote.ifBetter accuracy on a regression model',
      'housing',
      () => ({ dataset: '_datasets/housing-test.csv', labelColumn: 'medv', promote: { alias: 'production', ifBetter: 'accuracy' } }),
      /promote\.ifBetter accuracy: housing is a regression model and reports no accuracy; compare on mse, mae, r2/,
    ],
    [
      'trainableLayers naming only a layer without weights (fit failed mid-job: "internal error", a tensor left behind)',
      'iris',
      () => ({ ...iris, config: { epochs: 1, trainableLayers: ['features'] } }),
      /trainableLayers features hold no weights: nothing would be trained; the layers with weights are hidden, probabilities/,
    ],
    [
      'a regression label beyond float32 (its target was Infinity: the job failed "diverged ... try a smaller learningRate")',
      'housing',
      () => ({ instances: [housingRow, housingRow, housingRow], labels: [22, 1e39, 20] }),
      /^labels\[1\]: 1e\+39 is beyond float32 \(the model computes in float32: at most ±3\.40e\+38\)$/,
    ],
    [
      'a validation label beyond float32',
      'housing',
      () => ({ instances: [housingRow, housingRow], labels: [22, 20], validation: { instances: [housingRow], labels: [-1e39] } }),
      /^validation\.labels\[0\]: -1e\+39 is beyond float32/,
    ],
  ])('%s: 400, nothing stored', async (_case, model, body, message) => {
    const before = await stored();
    const answer = await call(app.fineTune, 'POST', `/v2/models/${model}/fine-tune`, body());
    expect(answer.statusCode).toBe(400);
    expect(answer.body.error).toMatch(message);
    expect(await stored()).toEqual(before);
  });
});

describe('a data set the job could not read is refused at submit, by fine-tune and by an asynchronous evaluation (no job, no worker started)', () => {
  it.each([
    ['a key of no object', { dataset: '_datasets/nope.csv' }, 404, /^dataset _datasets\/nope\.csv: no such object in the model store$/],
    ['a key climbing out of the store', { dataset: '../secrets.csv' }, 400, /^invalid data set key "\.\.\/secrets\.csv"$/],
    ['a bucket other than the store', { dataset: 's3://elsewhere/x.csv' }, 403, /is outside the model store/],
    ['a file of no format read here', { dataset: '_datasets/iris-test.txt' }, 400, /^cannot tell the format of _datasets\/iris-test\.txt/],
  ])('%s', async (_case, data, status, message) => {
    const before = await stored();
    const body = { ...data, labelColumn: 'species' };
    const fineTune = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', body);
    expect(fineTune.statusCode, JSON.stringify(fineTune.body)).toBe(status);
    expect(fineTune.body.error).toMatch(message);
    const evaluation = await call(app.evaluations, 'POST', '/v2/models/iris/evaluations?async=true', body);
    expect(evaluation.statusCode, JSON.stringify(evaluation.body)).toBe(status);
    expect(evaluation.body.error).toMatch(message);
    expect(await stored()).toEqual(before);
  });

  it('a separate validation data set too, named by its field', async () => {
    const before = await stored();
    const validation = async (dataset: string) => call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', { ...iris, validation: { dataset, labelColumn: 'species' } });
    const gone = await validation('_datasets/gone.csv');
    expect(gone.statusCode).toBe(404);
    expect(gone.body.error).toBe('validation.dataset _datasets/gone.csv: no such object in the model store');
    const outside = await validation('s3://elsewhere/v.csv');
    expect(outside.statusCode).toBe(403);
    expect(outside.body.error).toMatch(/^validation\.dataset: data set s3:\/\/elsewhere\/v\.csv is outside the model store/);
    const format = await validation('_datasets/v.parquet');
    expect(format.statusCode).toBe(400);
    expect(format.body.error).toMatch(/^validation\.dataset: cannot tell the format of _datasets\/v\.parquet/);
    expect(await stored()).toEqual(before);
  });
});

describe('fine-tune refuses rows the model overflows on, as predict and evaluate do', () => {
  // Finite values the demo model's output is NaN for (nonFiniteOutput.test.ts): trained on, the
  // job failed "training diverged at epoch 1 ... try a smaller learningRate".
  const overflow = [3e38, 3e38, 3e38, 3e38];
  const overflowRecord = { sepal_length: 3e38, sepal_width: 3e38, petal_length: 3e38, petal_width: 3e38 };

  it('at submit: 422 naming the rows, of the training data and of separate validation data, nothing stored', async () => {
    const before = await stored();
    const training = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', {
      instances: [...iris.instances.slice(0, 8), overflowRecord, iris.instances[8]],
      labels: iris.labels.slice(0, 10),
      config: { epochs: 1 },
    });
    expect(training.statusCode, JSON.stringify(training.body)).toBe(422);
    expect(training.body.error).toBe(`instances[8]: ${NON_FINITE_OUTPUT}`);
    const validation = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', {
      ...iris,
      validation: { instances: [iris.instances[0], overflowRecord], labels: iris.labels.slice(0, 2) },
      config: { epochs: 1 },
    });
    expect(validation.statusCode, JSON.stringify(validation.body)).toBe(422);
    expect(validation.body.error).toBe(`validation.instances[1]: ${NON_FINITE_OUTPUT}`);
    expect(await stored()).toEqual(before);
  });

  it("a data set's rows (read by the worker only) fail the job naming their line, and no version is written", async () => {
    const lines = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n').slice(0, 11);
    lines.splice(3, 0, `${overflow.join(',')},setosa`);
    await store.put('_datasets/iris-overflow.csv', `${lines.join('\n')}\n`);
    const versions = await listVersions(store, 'iris');
    const accepted = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', { dataset: '_datasets/iris-overflow.csv', labelColumn: 'species', config: { epochs: 1 } });
    expect(accepted.statusCode).toBe(202);
    const job = await waitForJob(app, accepted.body.id);
    expect(job.status).toBe('failed');
    expect(job.error).toBe(`line 4: ${NON_FINITE_OUTPUT}`);
    expect(await listVersions(store, 'iris')).toEqual(versions);
  });
});

describe('fine-tune jobs', () => {
  it("a data set's regression label beyond float32 fails the job naming its line, not as a diverged run", async () => {
    const lines = (await readFile('models/_datasets/housing-test.csv', 'utf8')).trim().split('\n').slice(0, 11);
    lines[4] = lines[4].replace(/,[^,]*$/, ',4e38');
    await store.put('_datasets/housing-huge-label.csv', `${lines.join('\n')}\n`);
    const versions = await listVersions(store, 'housing');
    const accepted = await call(app.fineTune, 'POST', '/v2/models/housing/fine-tune', { dataset: '_datasets/housing-huge-label.csv', labelColumn: 'medv', config: { epochs: 1 } });
    expect(accepted.statusCode).toBe(202);
    const job = await waitForJob(app, accepted.body.id);
    expect(job).toMatchObject({ status: 'failed', error: 'line 5, medv: 4e+38 is beyond float32 (the model computes in float32: at most ±3.40e+38)' });
    expect(await listVersions(store, 'housing')).toEqual(versions);
  });

  it('a data set whose rows do not fit the model fails the job with what is wrong, not an internal error', async () => {
    // A model without input transforms: a data set's row is its values as they are.
    await pushModelFolder(store, await writeLayersModel(), 'tiny', { labels: ['a', 'b', 'c'] });
    const rows = Array.from({ length: 10 }, (_, i) => JSON.stringify({ x: i, y: 1, z: 2, label: 'abc'[i % 3] })).join('\n');
    await store.put('_datasets/tiny-narrow.jsonl', rows);
    const accepted = await call(app.fineTune, 'POST', '/v2/models/tiny/fine-tune', { dataset: '_datasets/tiny-narrow.jsonl', config: { epochs: 1 } });
    expect(accepted.statusCode).toBe(202);
    const job = await waitForJob(app, accepted.body.id);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/data set .*tiny-narrow\.jsonl: input probs_input: shape \[10,3\] does not fit the model's \[-1,4\]/);
    expect(await listVersions(store, 'tiny')).toEqual([1]);
  });

  it('a data file of two forms fails the job naming the row by its line, in the words of evaluate (it was "data set ...[1]")', async () => {
    const row = (i: number) => ({ instance: iris.instances[i], species: iris.labels[i] });
    const raw = (i: number) => ({ instance: Object.values(iris.instances[i]), species: iris.labels[i] });
    await store.put('_datasets/iris-two-forms.jsonl', `${[raw(0), raw(1), row(2), raw(3)].map((r) => JSON.stringify(r)).join('\n')}\n`);
    const body = { dataset: '_datasets/iris-two-forms.jsonl', labelColumn: 'species' };
    const now = await call(app.evaluate, 'POST', '/v2/models/iris/evaluate', body);
    expect(now.body.error).toMatch(/^line 3 is an instance, not a raw tensor row like line 1: /);
    const accepted = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', { ...body, config: { epochs: 1 } });
    expect(accepted.statusCode).toBe(202);
    const job = await waitForJob(app, accepted.body.id);
    expect(job.status).toBe('failed');
    expect(job.error).toBe(now.body.error);
  });

  it("a validation data set holds its truth in the training data set's column unless it names its own, and its faults are named as its own", async () => {
    const inherits = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', {
      dataset: '_datasets/iris-test.csv',
      labelColumn: 'species',
      validation: { dataset: '_datasets/iris-test.csv' },
      config: { epochs: 1 },
    });
    expect(inherits.statusCode, JSON.stringify(inherits.body)).toBe(202);
    const succeeded = await waitForJob(app, inherits.body.id);
    expect(succeeded.status, JSON.stringify(succeeded.error)).toBe('succeeded');
    const own = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', {
      dataset: '_datasets/iris-test.csv',
      labelColumn: 'species',
      validation: { dataset: '_datasets/iris-test.csv', labelColumn: 'truth' },
      config: { epochs: 1 },
    });
    const failed = await waitForJob(app, own.body.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^validation\.dataset _datasets\/iris-test\.csv: label column "truth" not found/);
  });

  it('when the alias cannot be moved after the version is written, the job succeeds and its result names the version and the failure', async () => {
    const failing = failingPut('iris/aliases/production.json', 'connection reset');
    const job = await createJob(store, 'fine-tune', { name: 'iris', version: 1 }, { ...iris, config: { epochs: 1 }, promote: { alias: 'production' } });
    const done = await runJob(environment(failing), job.id, executors);
    expect(done.status).toBe('succeeded');
    const result = done.result as Result;
    expect((await readManifest(store, 'iris', result.version)).lineage.jobId).toBe(job.id);
    expect(result.promoted).toMatchObject({
      alias: 'production',
      moved: false,
      error: 'the model store failed to write the alias', // not the store's own words
      reason: expect.stringContaining(`version ${result.version} is written: PUT /v2/models/iris/aliases/production`),
    });
    expect(await readAlias(store, 'iris', 'production')).toMatchObject({ version: 1 });
  });

  it('a redelivered job (the worker died after writing its version) still moves the alias, and does not compare the version with itself', async () => {
    const dying = failingPut('iris/aliases/canary.json', 'worker killed');
    const job = await createJob(store, 'fine-tune', { name: 'iris', version: 1 }, { ...iris, config: { epochs: 1 }, promote: { alias: 'canary', ifBetter: 'accuracy' } });
    const first = await runJob(environment(dying), job.id, executors);
    const { version } = first.result as Result;
    expect(await readAlias(store, 'iris', 'canary')).toBeUndefined();
    // Redelivered as if the worker had died there: the job record still says running.
    const second = await runJob(environment(store), (await updateJob(store, first, { status: 'running', result: undefined })).id, executors);
    expect(second.result).toMatchObject({ version, promoted: { alias: 'canary', moved: true, reason: 'alias canary held no version: nothing to compare accuracy with' } });
    expect((second.result as Result).history.length).toBe(1); // from the version's manifest
    expect(await readAlias(store, 'iris', 'canary')).toMatchObject({ version });
    // Redelivered once more, after the alias moved: it points at this version already.
    const third = await runJob(environment(store), (await updateJob(store, second, { status: 'running', result: undefined })).id, executors);
    expect(third.result).toMatchObject({ version, promoted: { moved: true } });
    expect(await listVersions(store, 'iris')).toContain(version);
  });

  it('promote.ifBetter onto a damaged alias file sets the alias, written over, rather than failing the job after training', async () => {
    await store.put('iris/aliases/broken.json', 'junk');
    const job = await createJob(store, 'fine-tune', { name: 'iris', version: 1 }, { ...iris, config: { epochs: 1 }, promote: { alias: 'broken', ifBetter: 'accuracy' } });
    const done = await runJob(environment(store), job.id, executors);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const { version } = done.result as Result;
    expect(done.result).toMatchObject({ promoted: { alias: 'broken', moved: true, reason: 'alias broken held no version: nothing to compare accuracy with' } });
    expect(await readAlias(store, 'iris', 'broken')).toMatchObject({ version, previous: [] });
  });

  it('promote.ifBetter compares with the version the alias points to when it moves: an alias moved during the job is compared again', async () => {
    // The alias does not exist when training ends (nothing to beat); version 1 is promoted to it
    // while the job writes its version, and a barely trained version does not beat it.
    const promoting = recording(store);
    const put = promoting.put;
    promoting.put = async (key, body, options) => {
      await put(key, body, options);
      if (/^iris\/versions\/\d+\/manifest\.json$/.test(key)) await setAlias(store, 'iris', 'gate', 1);
    };
    const job = await createJob(
      store,
      'fine-tune',
      { name: 'iris', version: 1 },
      { ...iris, config: { epochs: 1, learningRate: 1e-6 }, promote: { alias: 'gate', ifBetter: 'accuracy' } },
    );
    const done = await runJob(environment(promoting), job.id, executors);
    expect(done.result).toMatchObject({ promoted: { alias: 'gate', moved: false, reason: expect.stringMatching(/^accuracy .* does not beat version 1's/) } });
    expect(await readAlias(store, 'iris', 'gate')).toMatchObject({ version: 1, previous: [] });
  });

  it('early stopping stops after the epoch TF.js’s tf.callbacks.earlyStopping stops on the same val_loss', async () => {
    // Trained towards setosa, validated on virginica: val_loss is best at epoch 1 and then worse.
    const setosa = iris.instances.filter((_, i) => iris.labels[i] === 'setosa');
    const virginica = iris.instances.filter((_, i) => iris.labels[i] === 'virginica');
    const earlyStopping = { monitor: 'val_loss', patience: 3 };
    const accepted = await call(app.fineTune, 'POST', '/v2/models/iris/fine-tune', {
      instances: setosa,
      labels: setosa.map(() => 'setosa'),
      validation: { instances: virginica, labels: virginica.map(() => 'virginica') },
      config: { epochs: 20, learningRate: 0.05, earlyStopping },
    });
    const job: Job = await waitForJob(app, accepted.body.id);
    expect(job.status).toBe('succeeded');
    const { history, version } = job.result as Result;
    const reference = await tfjsStopEpoch({ ...earlyStopping, minDelta: 0 }, history);
    expect(reference).toBeDefined();
    expect(history.length).toBe(reference);
    expect((await readManifest(store, 'iris', version)).training).toMatchObject({ stoppedEarly: 'earlyStopping' });
    // The job's answer says so too (a client saw fewer epochs than asked and no reason).
    expect((job.result as { stoppedEarly?: string }).stoppedEarly).toBe('earlyStopping');
  });
});
