/**
 * Saved evaluations are listed newest first (lib/ops/evaluations.ts), whatever order the store
 * lists their keys in (by id, which says nothing of time).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listEvaluations } from '../../lib/ops/evaluations.js';
import { keys } from '../../lib/registry/index.js';
import { FolderStore } from '../../lib/store/folder.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'list-evaluations-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it('lists saved evaluations newest first, across days, years and milliseconds', async () => {
  const store = new FolderStore(dir);
  const times = ['2026-11-30T06:00:00.000Z', '2025-12-31T23:59:59.999Z', '2026-11-30T06:00:00.001Z', '2026-01-01T00:00:00.000Z', '2026-11-09T10:00:00.000Z'];
  // Ids that sort against time, so the store's key order cannot give the answer.
  for (const [i, createdAt] of times.entries()) {
    const id = `e${9 - i}`;
    await store.put(keys.evaluation('m', 1, id), JSON.stringify({ id, source: 'instances', count: 1, metrics: { accuracy: i / 10 }, createdAt }));
  }
  const listed = await listEvaluations(store, 'm', 1);
  expect(listed.map((e) => e.createdAt)).toEqual([...times].sort().reverse());
  expect(listed.map((e) => e.id)).toEqual(['e7', 'e9', 'e5', 'e6', 'e8']);
});
