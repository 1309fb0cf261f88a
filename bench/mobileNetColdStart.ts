/**
 * Cold start with a MobileNet-sized model (nsfwjs's MobileNetV2, about 14 MB of float32 weights)
 * served from an S3 API (s3rver): spawn -> first answer of the built predict bundle, against a bare
 * script that fetches the same model.json and weights from the same server, builds the model with
 * tf.loadLayersModel and predicts once (bench/children/rawMobileNet.mjs). Pair by pair, each on a
 * fresh process; the request is one 224x224x3 tensor sent with the OIP binary extension, so that
 * neither side decodes an image.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushModelFolder } from '../lib/ops/pushFolder.js';
import { findWasmDir } from '../lib/runtime/wasmFiles.js';
import { listAll, openStore } from '../lib/store/index.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../scripts/local/s3.js';
import { MOBILENET_LABELS, mobileNetFolder } from './mobileNet.js';
import { childEnv, runChild } from './spawnTimer.js';
import { median, round } from './stats.js';

const childDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'children');

export interface MobileNetColdStart {
  weightsBytes: number;
  runs: number;
  ourMs: number;
  rawMs: number;
  /** Median of ours / raw, pair by pair. */
  ratio: number;
}

export async function measureMobileNetColdStart(options: { outDir: string; runs: number }): Promise<MobileNetColdStart> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-mobilenet-cold-'));
  const s3 = await startLocalS3({ directory: path.join(dir, 's3'), port: 0 });
  try {
    const store = openStore(`s3://${s3.bucket}/`, { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: LOCAL_S3_CREDENTIALS });
    // A raw-tensor model (no transform): the request is the 224x224x3 input itself.
    const manifest = await pushModelFolder(store, await mobileNetFolder(), 'mobilenet', { labels: MOBILENET_LABELS });
    let weightsBytes = 0;
    for await (const object of listAll(store, `mobilenet/versions/${manifest.version}/`)) if (object.key.endsWith('.bin')) weightsBytes += object.size;
    const values = new Float32Array(224 * 224 * 3).fill(0.5);
    const header = Buffer.from(
      JSON.stringify({ inputs: [{ name: manifest.signature.inputs[0].name, shape: [1, 224, 224, 3], datatype: 'FP32', parameters: { binary_data_size: values.byteLength } }] }),
    );
    const event = {
      method: 'POST',
      path: '/v2/models/mobilenet/infer',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, Buffer.from(values.buffer)]).toString('base64'),
      isBase64Encoded: true,
    };
    const eventFile = path.join(dir, 'event.json');
    await writeFile(eventFile, JSON.stringify(event));
    const env = childEnv(
      {
        MODEL_STORE_URI: `s3://${s3.bucket}/`,
        S3_ENDPOINT: s3.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      },
      ['POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_DISABLED'],
    );
    const base = `${s3.endpoint}/${s3.bucket}/mobilenet/versions/${manifest.version}`;
    const rawArgs = [findWasmDir() ?? '', `${base}/model.json`];
    const ours: number[] = [];
    const raws: number[] = [];
    for (let i = 0; i < options.runs + 1; i += 1) {
      const raw = await runChild(path.join(childDir, 'rawMobileNet.mjs'), rawArgs, { env, cwd: process.cwd(), timeoutMs: 120_000 });
      const run = await runChild(path.join(childDir, 'coldStartEvent.mjs'), [path.join(options.outDir, 'predict', 'index.js'), eventFile], {
        env,
        cwd: options.outDir,
        timeoutMs: 120_000,
      });
      const answer = run.reports[0] as { statusCode: number; body: string };
      if (answer.statusCode !== 200) throw new Error(`MobileNet cold start answered ${answer.statusCode}: ${answer.body}`);
      if (i === 0) continue; // warms the OS file cache
      ours.push(run.wallMs);
      raws.push(raw.wallMs);
    }
    return { weightsBytes, runs: ours.length, ourMs: round(median(ours), 1), rawMs: round(median(raws), 1), ratio: round(median(ours.map((o, i) => o / raws[i])), 2) };
  } finally {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
