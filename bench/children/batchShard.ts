// Section 12 (bench/batchShard.ts) in a fresh process, as a user runs `modelctl batch`: the bench's
// own process has run every section before it by then, and the planner and the join run in the
// process that calls batch(). Run under the node whose workers are measured (this one or Node 22).
//   node --import tsx bench/children/batchShard.ts [--quick]
// Reports `BENCH {...}`: the ShardBenchResult.
import { MARKER } from '../spawnTimer.js';
import { measureShardedBatch } from '../batchShard.js';

const report = (value: unknown) => process.stdout.write(`${MARKER}${JSON.stringify(value)}\n`);
try {
  report(await measureShardedBatch({ quick: process.argv.includes('--quick') }));
} catch (error) {
  report({ error: (error as Error).message });
}
process.exit(0);
