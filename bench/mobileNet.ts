/**
 * The MobileNet-sized model the bench measures with: nsfwjs's MobileNetV2 (npm, 224 x 224 x 3,
 * about 2.6 million parameters), exported to a TF.js folder (examples/export-nsfwjs.mjs) once per
 * run, with the preprocessing its own classify() uses.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportNsfwModel } from '../examples/export-nsfwjs.mjs';

export const MOBILENET_LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
export const MOBILENET_INPUT = { kind: 'image', width: 224, height: 224, channels: 3, resize: 'bilinear', alignCorners: true };

let folder: Promise<string> | undefined;

/** The model folder (model.json + one shard), written on first use. */
export function mobileNetFolder(): Promise<string> {
  folder ??= mkdtemp(path.join(tmpdir(), 'bench-mobilenet-')).then((dir) => exportNsfwModel('MobileNetV2', dir));
  return folder;
}
