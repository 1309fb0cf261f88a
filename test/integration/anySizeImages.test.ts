/**
 * Image models of any size (input [-1, -1, -1, 3], as an upscaler's), pushed with `--image anyx3`
 * (settings without width and height): each request's images are taken at their own size, upright
 * by their EXIF orientation, and answered as TF.js answers those pixels over 255; a request's images
 * share one size (they make one tensor), and one of another size is refused, naming both.
 * Explanations, previews and batch scoring take them at their size too.
 */
import * as tf from '@tensorflow/tfjs-core';
import piexif from 'piexifjs';
import { PNG } from 'pngjs';
import { beforeAll, expect, it } from 'vitest';
import { preprocessingFrom } from '../../cli/commands/preprocessing.js';
import { push } from '../../cli/commands/push.js';
import { scoreObject } from '../../lib/batch/run.js';
import { precheckEvaluation } from '../../lib/ops/evaluate/precheck.js';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { costPerRow, MemoryBudget } from '../../lib/runtime/memory.js';
import { oneInvocation } from '../helpers/batchOptions.js';
import { b64, jpegBytes, type Painter, pixels, pngBytes } from '../helpers/images.js';
import { loadLayersFolder } from '../helpers/layersFolder.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';
import { writeAnySizeImageModel, writeImageModel } from '../helpers/tinyModels.js';

const anySize = { kind: 'image', channels: 3 };
let app: App;
let upscalerFolder: string;

/** A painting whose every pixel differs, so a transposed or resampled image would show. */
const painting =
  (seed: number): Painter =>
  (x, y) => [(37 * x + 11 * y + seed) % 256, (13 * x + 53 * y + 2 * seed) % 256, (71 * x + 29 * y + 3 * seed) % 256, 255];

/** What TF.js answers on an image's pixels over 255, as the model's own pipeline feeds it. */
async function reference(width: number, height: number, paint: Painter): Promise<{ shape: number[]; data: number[] }> {
  const model = await loadLayersFolder(upscalerFolder);
  const rgba = pixels(width, height, paint);
  const rgb = Array.from({ length: width * height * 3 }, (_, i) => rgba[Math.floor(i / 3) * 4 + (i % 3)] / 255);
  const output = tf.tidy(() => model.predict(tf.tensor4d(rgb, [1, height, width, 3])) as tf.Tensor);
  const answer = { shape: output.shape, data: Array.from(await output.data()) };
  output.dispose();
  model.dispose();
  return answer;
}

beforeAll(async () => {
  const store = await tempFolderStore();
  upscalerFolder = await writeAnySizeImageModel('upscaler');
  await pushModelFolder(store, upscalerFolder, 'upscaler', { task: 'regression', transforms: { input: anySize } });
  await pushModelFolder(store, await writeAnySizeImageModel('classifier'), 'classifier', { labels: ['a', 'b'], transforms: { input: anySize } });
  app = serving(store.uri);
});

it('modelctl push --image anyx3 makes settings without a size; a fit or a crop needs one, and a model of one size is told which', async () => {
  expect(await preprocessingFrom({ image: 'anyx3' })).toEqual({ kind: 'image', channels: 3 });
  await expect(preprocessingFrom({ image: 'anyx3', fit: 'cover' })).rejects.toThrow(
    '--fit: --image anyx3 takes each image at its own size, with nothing resized or padded: drop --fit',
  );
  await expect(preprocessingFrom({ image: 'anyx3', crop: '0,0,0.5,0.5' })).rejects.toThrow(/--crop: .*crop resizes its box to a fixed size/);
  await expect(preprocessingFrom({ image: 'anyx2' })).rejects.toThrow(/anyxCHANNELS to take each image at its own size/);
  await expect(preprocessingFrom({ image: 'anyx3', resize: 'nearest' })).rejects.toThrow(
    '--resize: --image anyx3 takes each image at its own size, with nothing resized or padded: drop --resize',
  );
  const store = await tempFolderStore();
  await expect(pushModelFolder(store, await writeImageModel(4, 5, 3), 'fixed', { transforms: { input: anySize } })).rejects.toThrow(
    'the image preprocessing makes rows of shape [-1,-1,3], but input flatten_Flatten1_input takes [5,4,3]: it takes images of 4x5: modelctl push --image 4x5x3',
  );
  // One size given to a model of any size: pushed, with a note saying what anyx3 does.
  const note = 'note: the model takes images of any size, and these settings resize each to one; --image anyx3 takes each at its own size';
  expect(await push(store, upscalerFolder, { name: 'resized', task: 'regression', image: '8x8x3' })).toContain(note);
  const own = await push(store, upscalerFolder, { name: 'own', task: 'regression', image: 'anyx3' });
  expect(own).not.toContain('note:');
  // What it does not do is not shown: no fit, resampling or fill at an image's own size.
  expect(own).toMatch(
    /^preprocessing: \{"kind":"image","channels":3,"alpha":"drop","scale":0.00392\d*,"offset":0,"mean":0,"std":1,"channelOrder":"rgb","layout":"hwc","invert":"never","exifOrientation":true\}$/m,
  );
  // One size, other channels: the channels it takes.
  await expect(
    pushModelFolder(store, await writeImageModel(4, 5, 1), 'grey-fixed', { transforms: { input: { kind: 'image', width: 4, height: 5, channels: 3 } } }),
  ).rejects.toThrow('it takes 1 channel: modelctl push --image 4x5x1');
  await expect(pushModelFolder(store, upscalerFolder, 'grey', { transforms: { input: { ...anySize, channels: 1 } } })).rejects.toThrow(
    'the image preprocessing makes rows of shape [-1,-1,1], but input conv2d_Conv2D1_input takes [-1,-1,3] (-1 = any size): it takes 3 channels: modelctl push --image anyx3',
  );
});

it("predicts each request at its images' size, as TF.js answers their pixels, over both protocols", async () => {
  const [small, wide] = [painting(1), painting(2)];
  for (const [width, height, paint] of [
    [3, 2, small],
    [7, 4, wide],
  ] as const) {
    const expected = await reference(width, height, paint);
    expect(expected.shape).toEqual([1, 2 * height, 2 * width, 3]);
    const picture = b64(pngBytes(width, height, paint));
    await call(app.predict, 'POST', '/v1/models/upscaler:predict', { instances: [picture] }); // the model loaded and cached
    const before = tf.memory().numTensors;
    const v1 = await call(app.predict, 'POST', '/v1/models/upscaler:predict', { instances: [picture, picture] });
    expect(v1.statusCode, JSON.stringify(v1.body)).toBe(200);
    expect(v1.body.predictions).toHaveLength(2);
    const flat = v1.body.predictions[1].value.flat(2) as number[];
    expect(flat).toHaveLength(expected.data.length);
    flat.forEach((v, i) => expect(v).toBeCloseTo(expected.data[i], 5));

    const oip = await call(app.predict, 'POST', '/v2/models/upscaler/infer', {
      inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [picture.b64], parameters: { content_type: 'base64' } }],
    });
    expect(oip.statusCode, JSON.stringify(oip.body)).toBe(200);
    expect(oip.body.outputs[0].shape).toEqual(expected.shape);
    oip.body.outputs[0].data.forEach((v: number, i: number) => expect(v).toBeCloseTo(expected.data[i], 5));
    expect(tf.memory().numTensors).toBe(before);
  }
});

it('takes a JPEG upright by its EXIF orientation: a 3 x 2 photo stored sideways (orientation 6) is answered as 2 x 3', async () => {
  const stored = jpegBytes(3, 2, painting(3), 100);
  const sideways = Buffer.from(piexif.insert(piexif.dump({ '0th': { [piexif.ImageIFD.Orientation]: 6 } }), stored.toString('binary')), 'binary');
  const answer = await call(app.predict, 'POST', '/v2/models/upscaler/preprocess', { instances: [b64(sideways)] });
  expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.outputs[0].shape).toEqual([1, 3, 2, 3]);
  const predicted = await call(app.predict, 'POST', '/v2/models/upscaler/infer', { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [b64(sideways).b64] }] });
  expect(predicted.body.outputs[0].shape).toEqual([1, 6, 4, 3]);
});

it('refuses a request whose images differ in size (400 naming both), and serves each alone', async () => {
  const [a, b] = [b64(pngBytes(3, 2, painting(4))), b64(pngBytes(4, 4, painting(5)))];
  const mixed = await call(app.predict, 'POST', '/v1/models/upscaler:predict', { instances: [a, a, b] });
  expect(mixed.statusCode).toBe(400);
  expect(mixed.body.error).toBe(
    "instances[2]: image is 4x4, and this request's first is 3x2: the model takes each image at its own size, and one request's images make one tensor, so they must share it; send images of other sizes in requests of their own",
  );
  for (const picture of [a, b]) expect((await call(app.predict, 'POST', '/v1/models/upscaler:predict', { instances: [picture] })).statusCode).toBe(200);
});

it("previews and explains at the image's size: a heatmap of its height x width, a PNG of it", async () => {
  const picture = b64(pngBytes(5, 3, painting(6)));
  const preview = await call(app.predict, 'POST', '/v2/models/classifier/preprocess?format=png', { instances: [picture] });
  expect(preview.statusCode).toBe(200);
  const png = PNG.sync.read(Buffer.from(preview.body as string, 'base64'));
  expect([png.width, png.height]).toEqual([5, 3]);
  for (const method of ['saliency', 'kernelShap', 'integratedGradients']) {
    const answer = await call(app.explain, 'POST', '/v2/models/classifier/explain', {
      instances: [picture],
      method,
      format: 'png',
      ...(method === 'kernelShap' ? { patchSize: 2 } : {}),
    });
    expect(answer.statusCode, `${method}: ${JSON.stringify(answer.body)}`).toBe(200);
    const [explanation] = answer.body.data.explanations;
    expect(explanation.heatmap).toHaveLength(3);
    expect(explanation.heatmap[0]).toHaveLength(5);
    const overlay = PNG.sync.read(Buffer.from(explanation.png, 'base64'));
    // Drawn larger, each pixel a square of the same side.
    expect(overlay.width / 5).toBe(overlay.height / 3);
  }
  // A raw row of any size is explained with a heatmap of its size too.
  const raw = Array.from({ length: 2 }, () => Array.from({ length: 4 }, () => [0.1, 0.5, 0.9]));
  const rawAnswer = await call(app.explain, 'POST', '/v2/models/classifier/explain', { instances: [raw], method: 'saliency' });
  expect(rawAnswer.statusCode, JSON.stringify(rawAnswer.body)).toBe(200);
  expect(rawAnswer.body.data.explanations[0].heatmap).toHaveLength(2);
  expect(rawAnswer.body.data.explanations[0].heatmap[0]).toHaveLength(4);
});

it('evaluates and batch-scores rows of different sizes, each at its own: the answers predict gives each alone', async () => {
  const pictures = [b64(pngBytes(3, 2, painting(7))), b64(pngBytes(6, 5, painting(8))), b64(pngBytes(2, 9, painting(9)))];
  const alone = await Promise.all(pictures.map((p) => call(app.predict, 'POST', '/v1/models/classifier:predict', { instances: [p] })));
  const labels = alone.map((answer) => answer.body.predictions[0].label as string);
  const evaluated = await call(app.evaluate, 'POST', '/v2/models/classifier/evaluate', { instances: pictures, labels });
  expect(evaluated.statusCode, JSON.stringify(evaluated.body)).toBe(200);
  expect(evaluated.body.metrics.accuracy).toBe(1);
  expect(evaluated.body.count).toBe(3);

  const key = 'batch/input/classifier/pictures.jsonl';
  await app.services.store.put(key, `${pictures.map((p) => JSON.stringify(p)).join('\n')}\n`);
  const outcome = await scoreObject(app.services.store, app.services.loader, key, oneInvocation(64));
  expect(outcome.manifest?.rows).toEqual({ read: 3, scored: 3, failed: 0 });
  const lines = new TextDecoder()
    .decode(await app.services.store.get('batch/output/classifier/pictures.jsonl.predictions.jsonl'))
    .trim()
    .split('\n');
  expect(lines.map((line) => JSON.parse(line).label)).toEqual(labels);
});

it("plans a first photo's pass from smaller rows measured ahead: refused with the figures and a size that fits, and the figure is the pass's own", async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeAnySizeImageModel('classifier'), 'classifier', { labels: ['a', 'b'], transforms: { input: anySize } });
  const photo = b64(pngBytes(700, 700, painting(10)));
  const body = { instances: [photo] };
  const small = serving(store.uri, { MEMORY_BUDGET_BYTES: String(40e6) });
  const refused = await call(small.predict, 'POST', '/v1/models/classifier:predict', body);
  expect(refused.statusCode).toBe(413);
  const named =
    /^one row of a forward pass through classifier:1 may need about \d+ MB \(scaled from a row of 176 x 176 x 3 measured: not yet measured at this size\); this function can give 38 MB .*: a row of this size does not fit, one of (\d+) x (\d+) x 3 would; /.exec(
      refused.body.error,
    );
  expect(named, refused.body.error).not.toBeNull();
  // The size it names is one the same function then answers.
  const [height, width] = [Number(named?.[1]), Number(named?.[2])];
  const fits = await call(small.predict, 'POST', '/v1/models/classifier:predict', { instances: [b64(pngBytes(width, height, painting(12)))] });
  expect(fits.statusCode, `${refused.body.error} then ${JSON.stringify(fits.body)}`).toBe(200);

  const large = serving(store.uri, { MEMORY_BUDGET_BYTES: String(400e6) });
  const costs = await large.services.loader.withModel({ name: 'classifier' }, async (loaded) => {
    const before = tf.memory().numTensors;
    // Raw rows of any size first, planned as images are: a 1 x 1 row, then a 600 x 600 one.
    const raw = (side: number) => ({
      inputs: [{ name: loaded.manifest.signature.inputs[0].name, shape: [1, side, side, 3], datatype: 'FP32', data: new Array(side * side * 3).fill(0.5) }],
    });
    for (const side of [1, 600]) {
      const answer = await call(large.predict, 'POST', '/v2/models/classifier/infer', raw(side));
      expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    }
    // A thumbnail: its cost, mostly what does not grow with the pixels, is not scaled to a photo (it refused one that fits).
    expect((await call(large.predict, 'POST', '/v1/models/classifier:predict', { instances: [b64(pngBytes(1, 1, painting(11)))] })).statusCode).toBe(200);
    expect((await call(large.predict, 'POST', '/v1/models/classifier:predict', body)).statusCode).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
    return { basis: costPerRow(loaded.model, 'forward', [600, 600, 3]), photo: costPerRow(loaded.model, 'forward', [700, 700, 3]) };
  });
  // The photo's pass was planned by scaling the 600 x 600 row's: what it measured is what scaling said, within a tenth.
  const scaled = ((costs.basis ?? 0) * 700 * 700) / (600 * 600);
  expect((costs.photo ?? 0) / scaled).toBeGreaterThan(0.9);
  expect((costs.photo ?? 0) / scaled).toBeLessThan(1.1);
});

it("explains a first large image planned as predict plans it: a 413 before the gradient pass runs, not a pass past the function's memory", async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeAnySizeImageModel('classifier'), 'classifier', { labels: ['a', 'b'], transforms: { input: anySize } });
  const small = serving(store.uri, { MEMORY_BUDGET_BYTES: String(30e6) });
  const picture = b64(pngBytes(400, 400, painting(13)));
  for (const method of ['saliency', 'kernelShap']) {
    const answer = await call(small.explain, 'POST', '/v2/models/classifier/explain', { instances: [picture], method });
    expect(answer.statusCode, `${method}: ${JSON.stringify(answer.body).slice(0, 300)}`).toBe(413);
    expect(answer.body.error).toMatch(/may need about \d+ MB \(scaled from a row of .* measured.*: a row of this size does not fit, one of \d+ x \d+ x 3 would/);
  }
  // An upscaler's gradient pass too: its output's width is only known at a size (two open sides
  // once multiplied to a width of 3, every measure ahead failed, and the pass ran unplanned).
  await pushModelFolder(store, upscalerFolder, 'upscaler', { task: 'regression', transforms: { input: anySize } });
  const upscaled = await call(small.explain, 'POST', '/v2/models/upscaler/explain', { instances: [b64(pngBytes(300, 300, painting(18)))], method: 'saliency', target: 0 });
  expect(upscaled.statusCode, JSON.stringify(upscaled.body).slice(0, 300)).toBe(413);
  expect(upscaled.body.error).toMatch(/^one row of a forward and backward pass through upscaler:1 may need about \d+ MB \(scaled from a row of 76 x 76 x 3 measured/);
});

it("batch scoring: a photo too large for the function is its row's error, the other rows scored", async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeAnySizeImageModel('classifier'), 'classifier', { labels: ['a', 'b'], transforms: { input: anySize } });
  const small = serving(store.uri, { MEMORY_BUDGET_BYTES: String(40e6) });
  const rows = [pngBytes(20, 10, painting(14)), pngBytes(700, 700, painting(15)), pngBytes(30, 40, painting(16))].map((png) => JSON.stringify(b64(png)));
  const key = 'batch/input/classifier/mixed.jsonl';
  await store.put(key, `${rows.join('\n')}\n`);
  const options = { ...oneInvocation(64), limits: { maxBatch: 64, budget: new MemoryBudget({ functionBytes: 2048 * 2 ** 20, overrideBytes: 40e6 }) } };
  const outcome = await scoreObject(store, small.services.loader, key, options);
  expect(outcome.status).toBe('succeeded');
  expect(outcome.manifest?.rows).toEqual({ read: 3, scored: 2, failed: 1 });
  const errors = new TextDecoder().decode(await store.get('batch/output/classifier/mixed.jsonl.errors.jsonl'));
  expect(JSON.parse(errors.trim())).toMatchObject({ line: 2, error: expect.stringMatching(/^b64: one row of a forward pass .*a row of this size does not fit/) });
});

it("an asynchronous evaluation's precheck takes each photo at its own size: one the worker can decode and run is accepted, one it cannot is refused", async () => {
  const store = await tempFolderStore();
  await pushModelFolder(store, await writeAnySizeImageModel('classifier'), 'classifier', { labels: ['a', 'b'], transforms: { input: anySize } });
  const local = serving(store.uri);
  const budget = (bytes: number) => new MemoryBudget({ functionBytes: 2048 * 2 ** 20, overrideBytes: bytes });
  const photo = b64(pngBytes(1500, 1500, painting(17)));
  const request = { instances: [photo], labels: ['a'], save: false };
  const precheck = (worker: number) =>
    local.services.loader.withModel({ name: 'classifier' }, (loaded) => precheckEvaluation(loaded, request, { maxBatch: 64, budget: budget(20e6), worker: budget(worker) }));
  await expect(precheck(3e9)).resolves.toBeUndefined();
  await expect(precheck(10e6)).rejects.toThrow(/one instance makes 25.7 MB of model input .*not even one fits/);
});

it('settings no request sized (a raw row of another rank) answer 400s, not the internal error', async () => {
  const store = await tempFolderStore();
  const folder = await writeAnySizeImageModel('classifier');
  const pushed = await pushModelFolder(store, folder, 'probe', { labels: ['a', 'b'], transforms: { input: anySize } });
  const signature = structuredClone(pushed.signature);
  signature.inputs[0].shape = null; // an input of unknown rank, as a graph model's may be
  await pushModelFolder(store, folder, 'unknown-rank', { labels: ['a', 'b'], signature, transforms: { input: anySize } });
  const unknown = serving(store.uri);
  const preview = await call(unknown.predict, 'POST', '/v2/models/unknown-rank/preprocess?format=png', { instances: [[0.1, 0.2, 0.3]] });
  expect([preview.statusCode, preview.body.error]).toEqual([400, "format png: a row of 3 values is not an image of this model's (any height x any width x 3)"]);
});

it('metadata says images are taken at their own size', async () => {
  const answer = await call(app.metadata, 'GET', '/v2/models/upscaler');
  expect(answer.statusCode).toBe(200);
  expect(JSON.stringify(answer.body)).toContain('taken at its own size');
});
