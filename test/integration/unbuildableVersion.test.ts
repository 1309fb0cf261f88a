/**
 * A version whose files match its manifest but which TF.js cannot build (a topology and weights
 * that disagree: written by hand, or by a release whose TF.js built what this one does not). Every
 * retry reads the same bytes and fails the same way, so it is a 500 naming an unbuildable version,
 * not a 503 asking clients to retry.
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { UNBUILDABLE_VERSION } from '../../lib/errors.js';
import { call, serving } from '../helpers/serving.js';

it('a layers model whose weights manifest disagrees with its topology: 500 naming an unbuildable version, no Retry-After', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'unbuildable-'));
  await cp('models/iris', path.join(root, 'iris'), { recursive: true });
  const dir = path.join(root, 'iris/versions/1');
  const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  modelJson.weightsManifest[0].weights[3].shape = [2]; // the output bias: 3 in the topology
  const text = JSON.stringify(modelJson);
  await writeFile(path.join(dir, 'model.json'), text);
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  manifest.files['model.json'] = createHash('sha256').update(text).digest('hex');
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));

  const served = serving(pathToFileURL(root).href);
  const answer = await call(served.predict, 'POST', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] });
  expect(answer.statusCode).toBe(500);
  expect(answer.headers['retry-after']).toBeUndefined();
  expect(answer.body.error).toBe(UNBUILDABLE_VERSION);
  expect(JSON.stringify(answer.body)).not.toMatch(/shape|bias|probabilities/);

  // TF.js leaks what a failed build made: the version is built once, so later requests leak nothing.
  const afterFirst = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const again = await call(served.predict, 'POST', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] });
    expect([again.statusCode, again.body.error]).toEqual([500, UNBUILDABLE_VERSION]);
  }
  expect(tf.memory().numTensors).toBe(afterFirst);
  // TF Serving's status route says so (END, with what to do), where it said AVAILABLE.
  for (const route of ['/v1/models/iris', '/v1/models/iris/versions/1', '/v1/models/iris/labels/production']) {
    const status = await call(served.metadata, 'GET', route);
    expect([status.statusCode, status.body]).toEqual([
      200,
      { model_version_status: [{ version: '1', state: 'END', status: { error_code: 'FAILED_PRECONDITION', error_message: UNBUILDABLE_VERSION } }] },
    ]);
  }
});
