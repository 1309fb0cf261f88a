/**
 * BYTES sent in binary (OIP's binary tensor data extension) cost memory by what they hold, not by
 * how many elements they are cut into, in a 256 MB function's own process
 * (test/helpers/functionProcess.ts): a view made up front for each of a million one-byte texts (a
 * 5 MB body) held 140 MB before any check ran, and the function went past 256 MB before its 413,
 * which then said that not even one instance fit (the views' garbage counted against the budget).
 */
import { expect, it } from 'vitest';
import { binaryRequest } from '../helpers/binaryClient.js';
import { requestsInFunction } from '../helpers/functionProcess.js';

const MB = 2 ** 20;
type Outcome = { status: number; error?: string; peakBytes: number; tensors: number };

function texts(values: string[]) {
  const { body, headerLength } = binaryRequest([{ name: 'text', shape: [values.length], datatype: 'BYTES', values }]);
  return { path: '/v2/models/spam/infer', body, headers: { 'inference-header-content-length': String(headerLength) } };
}

it('a million one-byte texts in binary are a 413 naming how many fit, under 256 MB; the function answers on', async () => {
  const million = Array.from({ length: 1_000_000 }, (_, i) => String.fromCharCode(97 + (i % 26)));
  const storeUri = new URL('../../models', import.meta.url).href;
  const [first, refused, after] = await requestsInFunction<Outcome>('predict', [texts(['free prize']), texts(million), texts(['lunch tomorrow?'])], { storeUri });
  expect(first.status, first.error).toBe(200);
  expect(refused.status).toBe(413);
  expect(refused.error).toMatch(/1000000 instances make [\d.]+ MB of model input .*: at most \d+ instances fit at once/);
  expect(refused.peakBytes).toBeLessThan(256 * MB);
  expect(after.status, after.error).toBe(200);
  expect(after.tensors).toBe(first.tensors);
}, 60_000);

it('a million empty images in binary are a 413 naming how many fit, under 256 MB, before a view is made of each; the function answers on', async () => {
  // An image model's elements were each made a Uint8Array view up front (about 140 bytes each)
  // before the image kind's count check: the process reached 239 MB (210 MB resident outside
  // tensors), and the 413 said no request fitted at all ("one row of a forward pass ... can give 0
  // KB"). Now 91 MB, and the 413 names the 17,507 that fit.
  const empty = new Uint8Array(0);
  const images = (values: Uint8Array[]) => {
    const { body, headerLength } = binaryRequest([{ name: 'image', shape: [values.length], datatype: 'BYTES', values }]);
    return { path: '/v2/models/digits/infer', body, headers: { 'inference-header-content-length': String(headerLength) } };
  };
  const storeUri = new URL('../../models', import.meta.url).href;
  const [refused, after] = await requestsInFunction<Outcome>('predict', [images(new Array(1_000_000).fill(empty)), texts(['lunch tomorrow?'])], { storeUri });
  expect(refused.status).toBe(413);
  expect(refused.error).toMatch(/1000000 instances make [\d.]+ MB of model input .*: at most \d+ instances fit at once/);
  expect(refused.peakBytes).toBeLessThan(256 * MB);
  expect(after.status, after.error).toBe(200);
}, 60_000);

it('a million empty images sent to an image model as a raw tensor are a 400 for their datatype, under 200 MB, before a view is made of each', async () => {
  // As a raw tensor (content_type "np") the elements were made views before runModel refused their
  // datatype: 230 MB at the peak for a 4 MB body, about 256 MB near the 6 MB a request may be.
  const { body, headerLength } = binaryRequest([{ name: 'image', shape: [1_000_000], datatype: 'BYTES', values: new Array(1_000_000).fill(new Uint8Array(0)) }], {
    parameters: { content_type: 'np' },
  });
  const storeUri = new URL('../../models', import.meta.url).href;
  const request = { path: '/v2/models/digits/infer', body, headers: { 'inference-header-content-length': String(headerLength) } };
  const [refused, after] = await requestsInFunction<Outcome>('predict', [request, texts(['lunch tomorrow?'])], { storeUri });
  expect(refused.status).toBe(400);
  expect(refused.error).toMatch(/strings \(OIP: BYTES\) do not fit the model's float32 input/);
  expect(refused.peakBytes).toBeLessThan(200 * MB);
  expect(after.status, after.error).toBe(200);
}, 60_000);
