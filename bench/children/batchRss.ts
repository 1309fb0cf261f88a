// Peak RSS of batch scoring one file in a fresh process:
//   node --import tsx bench/children/batchRss.ts <models dir> <data dir> <key> <warm-up key> <rows> <max batch>
// Reports `BENCH {...}`: maxRSS (KiB, process.resourceUsage) once the model is loaded and a small
// warm-up file was scored (the baseline), and at the end of the run (the peak), with the time taken.
import { outputsFor, parseInputKey } from '../../lib/batch/paths.js';
import { scoreObject } from '../../lib/batch/run.js';
import { ModelLoader } from '../../lib/loader/index.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { FolderStore } from '../../lib/store/folder.js';
import { localLimits } from '../../lib/runtime/memory.js';

const [modelsDir, dataDir, key, warmKey, rows, maxBatch] = process.argv.slice(2);
const report = (value: unknown) => process.stdout.write(`BENCH ${JSON.stringify(value)}\n`);
process.on('uncaughtException', (error) => {
  report({ error: error.message });
  process.exit(1);
});

const backend = await initBackend();
const loader = new ModelLoader(new FolderStore(modelsDir), { aliasTtlMs: 60_000, maxBytes: 1e9 });
const store = new FolderStore(dataDir);
const options = {
  limits: localLimits(Number(maxBatch)),
  marginMs: 0,
  remainingMs: () => Number.POSITIVE_INFINITY,
  continueLater: async () => {
    throw new Error('no continuation expected');
  },
};
// A manifest left by an earlier run would make these runs skip (same ETag).
for (const k of [warmKey, key]) await store.delete(outputsFor(parseInputKey(k)).manifest);
const warm = await scoreObject(store, loader, warmKey, options);
if (warm.status !== 'succeeded') throw new Error(`warm-up: ${warm.status} ${warm.manifest?.error ?? ''}`);
const warmMaxRssKb = process.resourceUsage().maxRSS;
const started = performance.now();
const outcome = await scoreObject(store, loader, key, options);
const ms = performance.now() - started;
if (outcome.status !== 'succeeded' || outcome.manifest?.rows.scored !== Number(rows)) {
  throw new Error(`${key}: ${outcome.status}, ${JSON.stringify(outcome.manifest?.rows ?? outcome.manifest?.error)}; expected ${rows} rows scored`);
}
report({ backend, warmMaxRssKb, maxRssKb: process.resourceUsage().maxRSS, rows: outcome.manifest.rows.scored, ms });
process.exit(0);
