/**
 * A layers model runs each call of rows as one batch (runtime/tfModel.ts's predictTensors): its
 * predict cut them into batches of 32 by default, and the wasm backend's Slice read the whole input
 * back into JavaScript for each. On the digits model, 256 images (MAX_BATCH: one call) run its
 * kernels once, as one image does, and answer bit for bit what requests of 32 (TF.js's own
 * batches) answer.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, serving, type App } from '../helpers/serving.js';

let app: App;
let images: unknown[];
beforeAll(async () => {
  app = serving(new URL('../../models', import.meta.url).href);
  images = (await readFile('models/_datasets/digits-test.jsonl', 'utf8'))
    .trim()
    .split('\n')
    .slice(0, 256)
    .map((line) => JSON.parse(line).image);
});

/** The digits model's answers to `instances`, and how many times each kernel ran. */
async function predicted(instances: unknown[]) {
  let body: { predictions: unknown[] } | undefined;
  const profile = await tf.profile(async () => {
    const answer = await call(app.predict, 'POST', '/v1/models/digits:predict', { instances });
    expect(answer.statusCode).toBe(200);
    body = answer.body as { predictions: unknown[] };
  });
  const counts: Record<string, number> = {};
  for (const { name } of profile.kernels) counts[name] = (counts[name] ?? 0) + 1;
  return { predictions: body?.predictions ?? [], counts };
}

describe('a call of many rows to a layers model', () => {
  it('runs its kernels once, as for one row, and answers what batches of 32 answer, bit for bit', async () => {
    const one = await predicted(images.slice(0, 1));
    const whole = await predicted(images);
    const convolutions = Object.keys(one.counts).filter((name) => /Conv2D|MatMul/.test(name));
    expect(convolutions.length).toBeGreaterThan(0);
    for (const name of convolutions) expect(whole.counts[name], name).toBe(one.counts[name]);

    const inThirtyTwos: unknown[] = [];
    for (let from = 0; from < images.length; from += 32) inThirtyTwos.push(...(await predicted(images.slice(from, from + 32))).predictions);
    expect(whole.predictions).toHaveLength(256);
    expect(whole.predictions).toEqual(inThirtyTwos);
  }, 60_000);
});
