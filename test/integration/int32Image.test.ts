/**
 * An image model whose input is int32 (MoveNet's is: its authors feed it
 * tf.cast(resizeBilinear(image), 'int32')): natural images are encoded as the float pipeline does
 * and cut toward zero, so predict, infer and /preprocess serve it; the answer equals infer on the
 * raw INT32 tensor /preprocess shows, and on the float encoding cut by TF.js's own cast.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushModelFolder } from '../../lib/ops/pushFolder.js';
import { BadRequestError } from '../../lib/errors.js';
import { loadWrittenGraph, writeInt32ImageModel, writeOutputsOnlyUint8Model, writeUint8ImageModel } from '../helpers/handWrittenGraphs.js';
import { b64, pngBytes } from '../helpers/images.js';
import { call, serving, type App } from '../helpers/serving.js';
import { tempFolderStore } from '../helpers/stores.js';

let app: App;
let store: Awaited<ReturnType<typeof tempFolderStore>>;
/** A 3 x 3 picture: bilinear resizing to 2 x 2 gives values between pixels, which the cast cuts. */
const picture = b64(pngBytes(3, 3, (x, y) => [40 * x + 7, 60 * y + 3, 25 * (x + y) + 1, 255]));

beforeAll(async () => {
  store = await tempFolderStore();
  const input = { kind: 'image', width: 2, height: 2, channels: 3, fit: 'stretch', resize: 'bilinear', scale: 1 };
  await pushModelFolder(store, await writeInt32ImageModel(), 'pose', { labels: ['a', 'b'], transforms: { input } });
  app = serving(store.uri);
});

describe('an int32 image model', () => {
  it('is served natural images; the answer equals infer on the int32 tensor /preprocess shows, which is the float encoding cut toward zero', async () => {
    const predicted = await call(app.predict, 'POST', '/v1/models/pose:predict', { instances: [picture], raw: true });
    expect(predicted.statusCode, JSON.stringify(predicted.body)).toBe(200);
    const before = tf.memory().numTensors;
    const shown = await call(app.predict, 'POST', '/v2/models/pose/preprocess', { instances: [picture] });
    expect(shown.statusCode).toBe(200);
    const [tensor] = shown.body.outputs;
    expect(tensor.datatype).toBe('INT32');
    expect(tensor.data.every((v: number) => Number.isInteger(v))).toBe(true);
    const raw = await call(app.predict, 'POST', '/v2/models/pose/infer', { inputs: [{ name: 'x', shape: [1, 2, 2, 3], datatype: 'INT32', data: tensor.data }] });
    expect(raw.statusCode, JSON.stringify(raw.body)).toBe(200);
    expect(predicted.body.predictions[0]).toEqual(raw.body.outputs[0].data);
    // The float encoding (what the pipeline computes before the cast), cut by TF.js's cast.
    const resized = tf.tidy(() => {
      const pixels = tf.tensor4d(Array.from({ length: 9 }, (_, i) => [40 * (i % 3) + 7, 60 * Math.floor(i / 3) + 3, 25 * ((i % 3) + Math.floor(i / 3)) + 1]).flat(), [1, 3, 3, 3]);
      return tf.cast(tf.image.resizeBilinear(pixels, [2, 2]), 'int32');
    });
    expect(tensor.data).toEqual(Array.from(resized.dataSync()));
    resized.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses raw float values (FP16, FP32, FP64) for its int32 input, saying which datatypes it takes', async () => {
    for (const datatype of ['FP16', 'FP32', 'FP64']) {
      const answer = await call(app.predict, 'POST', '/v2/models/pose/infer', { inputs: [{ name: 'x', shape: [1, 2, 2, 3], datatype, data: Array(12).fill(1.5) }] });
      expect(answer.statusCode).toBe(400);
      expect(answer.body.error).toBe(
        "input x: floating-point values (OIP: FP16, FP32 or FP64) do not fit the model's int32 input: send integers (OIP: INT32, INT8, INT16, INT64, UINT8, UINT16, UINT32, UINT64 or BOOL)",
      );
    }
  });

  it('takes pixels as they are (scale 1) when the push gives no scale: the default 1/255 of a float input would cut every pixel to 0', async () => {
    const input = { kind: 'image', width: 2, height: 2, channels: 3, fit: 'stretch', resize: 'bilinear' };
    const pushed = await pushModelFolder(store, await writeInt32ImageModel(), 'pose-unscaled', { labels: ['a', 'b'], transforms: { input } });
    expect(pushed.transforms.input).toMatchObject({ kind: 'image', scale: 1 });
    const [said, unscaled] = await Promise.all(['pose', 'pose-unscaled'].map((name) => call(app.predict, 'POST', `/v2/models/${name}/preprocess`, { instances: [picture] })));
    expect(unscaled.statusCode).toBe(200);
    expect(unscaled.body.outputs[0].data).toEqual(said.body.outputs[0].data);
    expect(Math.max(...unscaled.body.outputs[0].data)).toBeGreaterThan(1);
  });

  it.each([
    [{ scale: 1 / 255 }, 'p * 0.00392156862745098 + 0'],
    [{ scale: 1, std: [1, 4, 1] }, 'p * 0.25 + 0 in channel 1'],
    [{ scale: 1, std: 2 }, 'p * 0.5 + 0'],
  ])('refuses settings %j that make pixels that differ one value, saying what a pixel becomes, and stores nothing', async (settings, becomes) => {
    const input = { kind: 'image', width: 2, height: 2, channels: 3, ...settings };
    const name = `pose-${Object.keys(settings).join('-')}`;
    const refused = pushModelFolder(store, await writeInt32ImageModel(), name, { labels: ['a', 'b'], transforms: { input } });
    await expect(refused).rejects.toBeInstanceOf(BadRequestError);
    await expect(refused).rejects.toThrow(`input x takes whole numbers (int32), and the image preprocessing makes pixel p (0..255) the value ${becomes}, cut to a whole number`);
    expect((await store.listPage(`${name}/`)).objects).toEqual([]);
  });
});

describe('a uint8 image model (handtrack: TF.js holds its input as int32)', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await writeUint8ImageModel();
    await pushModelFolder(store, folder, 'hands', { labels: ['a', 'b'], transforms: { input: { kind: 'image', width: 2, height: 2, channels: 3 } } });
  });

  it('refuses image settings that would give values outside 0..255, and stores nothing', async () => {
    const input = { kind: 'image', width: 2, height: 2, channels: 3, scale: 1, offset: -128 };
    await expect(pushModelFolder(store, folder, 'hands-offset', { labels: ['a', 'b'], transforms: { input } })).rejects.toThrow(
      'input x takes uint8 values (0..255), and the image preprocessing makes pixels 0..255 the values -128..127: give settings that keep them in 0..255 (scale 1: pixels as they are)',
    );
    expect((await store.listPage('hands-offset/')).objects).toEqual([]);
  });

  it('/preprocess names its tensor UINT8, as metadata names the input, and infer takes it back as it is', async () => {
    const meta = await call(app.metadata, 'GET', '/v2/models/hands');
    const shown = await call(app.predict, 'POST', '/v2/models/hands/preprocess', { instances: [picture] });
    expect(meta.body.inputs[0].datatype).toBe('UINT8');
    expect(shown.body.outputs[0].datatype).toBe('UINT8');
    const [tensor] = shown.body.outputs;
    const fromTensor = await call(app.predict, 'POST', '/v2/models/hands/infer', {
      inputs: [{ name: tensor.name, shape: tensor.shape, datatype: tensor.datatype, data: tensor.data }],
    });
    const fromImage = await call(app.predict, 'POST', '/v2/models/hands/infer', { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [picture.b64] }] });
    expect(fromTensor.statusCode).toBe(200);
    expect(fromTensor.body.outputs).toEqual(fromImage.body.outputs);
  });

  it('a raw binary row of uint8 pixels that starts as a JPEG does (255, 216, 255) is read as the row its size makes it, not as a file', async () => {
    const pixels = [255, 216, 255, 0, 7, 12, 200, 3, 99, 1, 128, 64];
    const raw = (await app.predict({
      version: '2.0',
      rawPath: '/v2/models/hands/infer',
      rawQueryString: '',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0' },
      requestContext: { http: { method: 'POST' }, requestId: 'raw-jpeg-like' },
      body: Buffer.from(pixels).toString('base64'),
      isBase64Encoded: true,
    })) as { statusCode: number; body: string; headers: Record<string, string> };
    expect(raw.statusCode, raw.body.slice(0, 300)).toBe(200);
    const json = await call(app.predict, 'POST', '/v2/models/hands/infer', {
      inputs: [{ name: 'x', shape: [1, 2, 2, 3], datatype: 'UINT8', data: pixels }],
      parameters: { binary_data_output: true },
    });
    expect(json.statusCode).toBe(200);
    expect(raw.body).toBe(json.body);
  });

  it('takes settings whose values, cut toward zero, stay in 0..255 (an offset of 0.5)', async () => {
    const input = { kind: 'image', width: 2, height: 2, channels: 3, scale: 1, offset: 0.5 };
    await expect(pushModelFolder(store, folder, 'hands-half', { labels: ['a', 'b'], transforms: { input } })).resolves.toMatchObject({ version: 1 });
  });

  it('keeps the range in explanations too: a raw instance or background value of 300 is a 400', async () => {
    const row = [0, 7, 255, 12, 300, 3, 99, 1, 128, 64, 32, 16];
    const nested = [
      [row.slice(0, 3), row.slice(3, 6)],
      [row.slice(6, 9), row.slice(9)],
    ];
    const explained = await call(app.explain, 'POST', '/v2/models/hands/explain', { instances: [nested], method: 'kernelShap' });
    expect(explained.statusCode).toBe(400);
    expect(explained.body.error).toMatch(/\(uint8\)\[4\] \(flat index\): 300 is not an integer in 0\.\.255/);
    const inRange = row.map((v) => (v === 300 ? 30 : v));
    const background = await call(app.explain, 'POST', '/v2/models/hands/explain', {
      instances: [
        [
          [inRange.slice(0, 3), inRange.slice(3, 6)],
          [inRange.slice(6, 9), inRange.slice(9)],
        ],
      ],
      method: 'kernelShap',
      background: [nested],
    });
    expect(background.statusCode).toBe(400);
    expect(background.body.error).toMatch(/300 is not an integer in 0\.\.255/);
    const fraction = await call(app.explain, 'POST', '/v2/models/hands/explain', {
      instances: [
        [
          [
            [0.5, 1, 2],
            [3, 4, 5],
          ],
          [
            [6, 7, 8],
            [9, 10, 11],
          ],
        ],
      ],
      method: 'kernelShap',
    });
    expect(fraction.statusCode).toBe(400);
    expect(fraction.body.error).toMatch(/\(uint8\)\[0\] \(flat index\): 0\.5 is not an integer in 0\.\.255/);
  });

  it('is described as uint8 by both protocols', async () => {
    const [oip, tfServing] = await Promise.all([call(app.metadata, 'GET', '/v2/models/hands'), call(app.metadata, 'GET', '/v1/models/hands/metadata')]);
    expect(oip.body.inputs[0]).toMatchObject({ name: 'x', datatype: 'UINT8', shape: [-1, 2, 2, 3] });
    expect(tfServing.body.metadata.signature_def.signature_def.serving_default.inputs.x.dtype).toBe('DT_UINT8');
  });

  it("refuses values outside 0..255 on every route, as TF Serving does, and answers those inside as TF.js's own run", async () => {
    const data = [0, 7, 255, 12, 200, 3, 99, 1, 128, 64, 32, 16];
    const outside = [...data.slice(0, 4), 300, ...data.slice(5)];
    const oip = (values: number[]) => ({ inputs: [{ name: 'x', shape: [1, 2, 2, 3], datatype: 'INT32', data: values }] });
    const refused = await Promise.all([
      call(app.predict, 'POST', '/v2/models/hands/infer', oip(outside)),
      call(app.predict, 'POST', '/v1/models/hands:predict', {
        instances: [
          [
            [outside.slice(0, 3), outside.slice(3, 6)],
            [outside.slice(6, 9), outside.slice(9)],
          ],
        ],
      }),
      call(app.predict, 'POST', '/v2/models/hands/infer', oip(data.map((v, i) => (i === 2 ? -1 : v)))),
    ]);
    expect(refused.map((r) => r.statusCode)).toEqual([400, 400, 400]);
    expect(refused[0].body.error).toBe('input x (uint8)[4] (flat index): 300 is not an integer in 0..255');
    expect(refused[1].body.error).toBe('instances[0][0][1][1]: 300 is not an integer in 0..255');
    expect(refused[2].body.error).toBe('input x (uint8)[2] (flat index): -1 is not an integer in 0..255');
    // A fraction is named by the same range (it was int32's -2147483648..2147483647).
    const fraction = await call(app.predict, 'POST', '/v1/models/hands:predict', {
      instances: [
        [
          [[2.5, ...data.slice(1, 3)], data.slice(3, 6)],
          [data.slice(6, 9), data.slice(9)],
        ],
      ],
    });
    expect(fraction.statusCode).toBe(400);
    expect(fraction.body.error).toMatch(/: 2\.5 is not an integer in 0\.\.255$/);
    const answered = await call(app.predict, 'POST', '/v2/models/hands/infer', oip(data));
    expect(answered.statusCode, JSON.stringify(answered.body)).toBe(200);
    const model = await loadWrittenGraph(folder);
    const reference = tf.tidy(() => (model.predict(tf.tensor4d(data, [1, 2, 2, 3], 'int32')) as tf.Tensor).dataSync());
    model.dispose();
    const probs = answered.body.outputs.find((o: { name: string }) => o.name === 'probs');
    expect(probs.data).toEqual(Array.from(reference));
  });
});

describe("a graph whose signature names only its outputs (human's faceboxes)", () => {
  it('is described by what its graph says and its example answers: the input uint8 (its Placeholder), an int32 output INT32, and values outside 0..255 refused', async () => {
    await pushModelFolder(store, await writeOutputsOnlyUint8Model(), 'boxes', { task: 'regression', answerOutput: 'probs' });
    const [oip, tfServing] = await Promise.all([call(app.metadata, 'GET', '/v2/models/boxes'), call(app.metadata, 'GET', '/v1/models/boxes/metadata')]);
    expect(oip.body.inputs[0]).toMatchObject({ name: 'x', datatype: 'UINT8' });
    expect(oip.body.outputs).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'best', datatype: 'INT32' }), expect.objectContaining({ name: 'probs', datatype: 'FP32' })]),
    );
    const signature = tfServing.body.metadata.signature_def.signature_def.serving_default;
    expect(signature.inputs.x.dtype).toBe('DT_UINT8');
    expect(signature.outputs.best.dtype).toBe('DT_INT32');
    const data = [0, 7, 255, 12, 200, 3, 99, 1, 128, 64, 32, 16];
    const infer = (values: number[]) =>
      call(app.predict, 'POST', '/v2/models/boxes/infer', { inputs: [{ name: 'x', shape: [1, 2, 2, 3], datatype: 'INT32', data: values }], outputs: [{ name: 'best' }] });
    const answered = await infer(data);
    expect(answered.statusCode, JSON.stringify(answered.body)).toBe(200);
    // The datatype metadata gave is the one the answer has.
    expect(answered.body.outputs[0]).toMatchObject({ name: 'best', datatype: 'INT32', shape: [1] });
    const refused = await infer([...data.slice(0, 4), 300, ...data.slice(5)]);
    expect(refused.statusCode).toBe(400);
    expect(refused.body.error).toMatch(/300 is not an integer in 0\.\.255/);
    // Floats are refused in the words metadata uses for the input.
    const floats = await call(app.predict, 'POST', '/v2/models/boxes/infer', { inputs: [{ name: 'x', shape: [1, 2, 2, 3], datatype: 'FP32', data }] });
    expect(floats.statusCode).toBe(400);
    expect(floats.body.error).toMatch(/do not fit the model's uint8 input/);
  });

  it("takes a raw binary request (Inference-Header-Content-Length: 0) in the declared UINT8's own size, one byte a value: the answer of the same bytes behind a JSON header", async () => {
    await pushModelFolder(store, await writeOutputsOnlyUint8Model(), 'rawboxes', { task: 'regression', answerOutput: 'probs' });
    const pixels = Uint8Array.from([0, 7, 255, 12, 200, 3, 99, 1, 128, 64, 32, 16]);
    const post = (body: Uint8Array, headerLength: number) =>
      app.predict({
        version: '2.0',
        rawPath: '/v2/models/rawboxes/infer',
        rawQueryString: '',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
        requestContext: { http: { method: 'POST' }, requestId: 'raw-uint8' },
        body: Buffer.from(body).toString('base64'),
        isBase64Encoded: true,
      }) as Promise<{ statusCode: number; body: string }>;
    const raw = await post(pixels, 0);
    expect(raw.statusCode, raw.body.slice(0, 300)).toBe(200);
    const header = new TextEncoder().encode(
      JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2, 2, 3], datatype: 'UINT8', parameters: { binary_data_size: 12 } }], parameters: { binary_data_output: true } }),
    );
    const withHeader = await post(Buffer.concat([header, pixels]), header.length);
    expect(withHeader.statusCode).toBe(200);
    expect(raw.body).toBe(withHeader.body);
    // The same values as int32 (48 bytes) are no row of a uint8 input: a 400 naming the 12 bytes it takes (it took these, and refused the 12).
    const wide = await post(new Uint8Array(Int32Array.from(pixels).buffer), 0);
    expect(wide.statusCode).toBe(400);
    expect(JSON.parse(wide.body).error).toBe(
      'the raw binary body has 48 bytes; a raw body for model rawboxes is one row of its input x, UINT8 [1,2,2,3] (little-endian), 12 bytes',
    );
  });

  it('pushed as raw tensors, where no example can be made (any height and width), the types are still those the graph says', async () => {
    const manifest = await pushModelFolder(store, await writeOutputsOnlyUint8Model('open'), 'anyboxes', { task: 'regression', answerOutput: 'probs' });
    expect(manifest.signature.inputs[0]).toMatchObject({ name: 'x', dtype: 'int32', declaredDtype: 'uint8' });
    expect(manifest.signature.outputs.find((o) => o.name === 'best')?.dtype).toBe('int32');
    expect(manifest.signature.outputs.find((o) => o.name === 'probs')?.dtype).toBe('float32');
  });
});
