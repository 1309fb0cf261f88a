/**
 * Explanations of a MobileNet-sized model (nsfwjs's MobileNetV2, 224 x 224 x 3) on a real photo,
 * through the explain service in process within a 2048 MB function's memory budget: saliency and
 * integrated gradients at 50 steps, against one raw predict of 50 rows. IG must finish within API
 * Gateway's 29 s integration timeout to be usable over HTTP.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ModelLoader } from '../lib/loader/index.js';
import { pushModelFolder } from '../lib/ops/pushFolder.js';
import { explain } from '../lib/ops/explain/service.js';
import { explainRequest } from '../lib/ops/explain/request.js';
import { parseModelRef } from '../lib/registry/index.js';
import { localLimits } from '../lib/runtime/memory.js';
import { FolderStore } from '../lib/store/folder.js';
import { MOBILENET_INPUT, MOBILENET_LABELS, mobileNetFolder } from './mobileNet.js';
import { round } from './stats.js';

export interface MobileNetExplainResult {
  /** Medians, ms. */
  saliencyMs: number;
  integratedGradients50Ms: number;
  predict50Ms: number;
  /** IG at 50 steps / one raw predict of 50 rows. */
  ratio: number;
  runs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timed(fn: () => Promise<unknown>, runs: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  return round(median(samples));
}

export async function measureMobileNetExplain(options: { quick?: boolean; storeDir: string }): Promise<MobileNetExplainResult> {
  const runs = options.quick ? 1 : 3;
  const store = new FolderStore(options.storeDir);
  await pushModelFolder(store, await mobileNetFolder(), 'mobilenet', { labels: MOBILENET_LABELS, transforms: { input: MOBILENET_INPUT } });
  const loader = new ModelLoader(store, { aliasTtlMs: 60_000, maxBytes: 1e9 });
  const photo = { b64: (await readFile(path.resolve('node_modules/@vladmandic/face-api/demo/sample1.jpg'))).toString('base64') };
  const limits = localLimits(256);
  try {
    return await loader.withModel(parseModelRef('mobilenet'), async (loaded) => {
      const saliency = explainRequest.parse({ instances: [photo], method: 'saliency' });
      const ig = explainRequest.parse({ instances: [photo], method: 'integratedGradients', steps: 50 });
      // Once each first: the per-row costs of both passes are measured then (lib/runtime/memory.ts).
      await explain(loaded, saliency, limits);
      const saliencyMs = await timed(() => explain(loaded, saliency, limits), runs + 2);
      const integratedGradients50Ms = await timed(() => explain(loaded, ig, limits), runs);
      const model = loaded.model as unknown as { predict(x: tf.Tensor): tf.Tensor };
      const x = tf.randomUniform([50, 224, 224, 3]);
      let predict50Ms: number;
      try {
        predict50Ms = await timed(async () => {
          const y = tf.tidy(() => model.predict(x));
          await y.data();
          y.dispose();
        }, runs + 1);
      } finally {
        x.dispose();
      }
      return { saliencyMs, integratedGradients50Ms, predict50Ms, ratio: round(integratedGradients50Ms / predict50Ms, 2), runs };
    });
  } finally {
    loader.clear();
  }
}
