/**
 * A request that really exhausts the 4 GiB wasm heap: integrated gradients of 32 digit images at
 * 1024 steps (32,768 rows) as one chunk, with no memory budget to split it (MEMORY_BUDGET_BYTES
 * of 64 GiB, MAX_BATCH past the row count). Without the budget this is what a heavy request did.
 */
import { readFile } from 'node:fs/promises';

export const heapExhaustingExplain = {
  env: { MEMORY_BUDGET_BYTES: String(64 * 2 ** 30), MAX_BATCH: '1000000' },
  path: '/v2/models/digits/explain',
  async body(): Promise<unknown> {
    const [first] = (await readFile('models/_datasets/digits-test.jsonl', 'utf8')).split('\n');
    const { image } = JSON.parse(first) as { image: unknown };
    return { instances: Array.from({ length: 32 }, () => image), method: 'integratedGradients', steps: 1024 };
  },
};
