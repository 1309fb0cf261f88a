/**
 * kernelShap's coalitions are drawn an instance at a time, in a 256 MB function's own process
 * (test/helpers/functionProcess.ts): 65,536 coalitions of 196 features are about 70 MB of masks and
 * their keys an instance, and all of a request's instances were drawn before any was explained.
 */
import { cp } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, it } from 'vitest';
import { uniform } from '../../lib/random.js';
import { requestsInFunction } from '../helpers/functionProcess.js';
import { tempFolderStore } from '../helpers/stores.js';

const MB = 2 ** 20;
let storeUri: string;

beforeAll(async () => {
  const store = await tempFolderStore();
  await cp('models', fileURLToPath(store.uri), { recursive: true });
  storeUri = store.uri;
});

type Outcome = { status: number; error?: string; peakBytes: number; tensors: number };

/** A 28 x 28 x 1 digit of noise: every one of its 196 two-pixel patches differs from a black background. */
function noise(seed: number): number[][][] {
  const next = uniform(seed);
  return Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [next()]));
}
const black = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0]));
const saliency = { path: '/v2/models/digits/explain', body: { method: 'saliency', instances: [noise(99)] } };

it('15 instances of 196 features at nSamples 65,536 stay under 256 MB, and the function answers the next request', async () => {
  const heavy = {
    path: '/v2/models/digits/explain',
    body: { method: 'kernelShap', instances: Array.from({ length: 15 }, (_, i) => noise(i + 1)), patchSize: 2, nSamples: 65536, background: [black] },
  };
  // API Gateway's 29 s: the old code drew every instance's coalitions in about 17 s here, at 634 MB.
  const [before, shap, after] = await requestsInFunction<Outcome>('explain', [saliency, heavy, saliency], {
    storeUri,
    env: { PEAK_CHILD_BODY: '0', PEAK_CHILD_TIMEOUT_MS: '29000' },
  });
  expect(before.status, before.error).toBe(200);
  // Explained, or refused for time once the first instance's pass or the instance has shown the pace: never past the memory.
  expect([200, 413], shap.error).toContain(shap.status);
  if (shap.status === 413)
    expect(shap.error).toMatch(
      /^(kernelShap: 15 instances|a forward pass through digits:1: 65537 rows), of which (the first (was timed alone|\d+ were timed in one call), and the next )?\d+ took/,
    );
  expect(shap.peakBytes).toBeLessThan(256 * MB);
  expect(after.status, after.error).toBe(200);
  expect(after.tensors).toBe(before.tensors);
}, 60_000);

it('a request past the rows one request may evaluate is refused before any coalition is drawn', async () => {
  const [shap] = await requestsInFunction<Outcome>(
    'explain',
    [
      {
        path: '/v2/models/digits/explain',
        body: { method: 'kernelShap', instances: Array.from({ length: 15 }, (_, i) => noise(i + 1)), patchSize: 2, nSamples: 65536, background: [black, black] },
      },
    ],
    { storeUri, env: { PEAK_CHILD_TIMEOUT_MS: '29000' } },
  );
  expect(shap.status).toBe(400);
  expect(shap.error).toBe('kernelShap would evaluate 1966110 rows (coalitions x 2 background rows); one request may take 1048576: lower nSamples or send a smaller background');
  // Drawn first, the old code's 15 designs took the process to 634 MB before this refusal.
  expect(shap.peakBytes).toBeLessThan(256 * MB);
}, 60_000);
