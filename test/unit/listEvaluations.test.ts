/**
 * Saved evaluations are listed newest first (lib/ops/evaluations.ts), whatever order the store
 * lists their keys in (by id, which says nothing of time), and only the newest are read: each is a
 * GET on every metadata request.
 */
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LISTED_EVALUATIONS, listEvaluations } from '../../lib/ops/evaluations.js';
import { keys } from '../../lib/registry/index.js';
import { FolderStore } from '../../lib/store/folder.js';
import type { ObjectStore } from '../../lib/store/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'list-evaluations-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Saves an evaluation as the service does, its file dated as saved at `createdAt`. */
async function save(store: FolderStore, id: string, createdAt: string) {
  const key = keys.evaluation('m', 1, id);
  await store.put(key, JSON.stringify({ id, source: 'instances', count: 1, metrics: { accuracy: 0.5 }, createdAt }));
  await utimes(path.join(dir, key), new Date(createdAt), new Date(createdAt));
}

it('lists saved evaluations newest first, across days, years and milliseconds', async () => {
  const store = new FolderStore(dir);
  const times = ['2026-11-30T06:00:00.000Z', '2025-12-31T23:59:59.999Z', '2026-11-30T06:00:00.001Z', '2026-01-01T00:00:00.000Z', '2026-11-09T10:00:00.000Z'];
  // Ids that sort against time, so the store's key order cannot give the answer.
  for (const [i, createdAt] of times.entries()) await save(store, `e${9 - i}`, createdAt);
  const listed = await listEvaluations(store, 'm', 1);
  expect(listed.evaluations.map((e) => e.createdAt)).toEqual([...times].sort().reverse());
  expect(listed.evaluations.map((e) => e.id)).toEqual(['e7', 'e9', 'e5', 'e6', 'e8']);
  expect(listed.evaluationCount).toBe(times.length);
});

it(`reads only the newest ${LISTED_EVALUATIONS} and counts them all`, async () => {
  const store = new FolderStore(dir);
  const saved = LISTED_EVALUATIONS + 7;
  const day = (i: number) => new Date(Date.UTC(2026, 0, 1 + i)).toISOString();
  // Saved in an order that is neither time's nor the ids'.
  for (let k = 0; k < saved; k += 1) {
    const i = (k * 11) % saved;
    await save(store, `id-${String(saved - i).padStart(3, '0')}`, day(i));
  }
  const reads: string[] = [];
  const counting: ObjectStore = Object.assign(Object.create(store), {
    getStream: (key: string, options?: object) => {
      reads.push(key);
      return store.getStream(key, options);
    },
    get: (key: string) => {
      reads.push(key);
      return store.get(key);
    },
  });
  const listed = await listEvaluations(counting, 'm', 1);
  expect(listed.evaluationCount).toBe(saved);
  expect(listed.evaluations.map((e) => e.createdAt)).toEqual(Array.from({ length: LISTED_EVALUATIONS }, (_, j) => day(saved - 1 - j)));
  expect(reads).toHaveLength(LISTED_EVALUATIONS);
});
