/**
 * Builds the handler bundles once before the suite: the end-to-end tests run the bundles under
 * `serverless offline` and `invoke local`, so `npm test` works on a fresh clone without a build step.
 *
 * Every temporary folder of the run (stores, models, outputs: os.tmpdir() in the test workers and
 * in every process they start) goes under one folder, removed when the run ends: each run left
 * about 2,000 folders in /tmp, copies of models among them, gigabytes over a day of runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildHandlers } from '../scripts/build.js';

export default async function setup(): Promise<() => Promise<void>> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tfjs-lambda-tests-'));
  // Read by os.tmpdir() in the workers, which start after this and inherit it.
  process.env.TMPDIR = root;
  await buildHandlers({ enforceBudget: false });
  return () => rm(root, { recursive: true, force: true });
}
