/**
 * A 256 MB function under the real `serverless offline`, where every function is a worker thread
 * of one process: large requests refused for memory leave the function serving one row. The
 * thread had no gc() (V8's flags are the process's, and serverless.yml's NODE_OPTIONS only reached
 * the function's environment), so the budget counted earlier requests' garbage as held and refused
 * every request, one row too, until the idle thread was ended a minute later
 * (scripts/local/offlineEnv.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Offline, startOffline } from '../helpers/offline.js';

let offline: Offline;

beforeAll(async () => {
  offline = await startOffline({}, 90_000, ['--param=memorySize=256']);
}, 120_000);

afterAll(async () => {
  await offline?.stop();
});

const rows = (n: number) => JSON.stringify({ instances: Array.from({ length: n }, () => [5.1, 3.5, 1.4, 0.2]) });

async function predict(n: number): Promise<{ status: number; error?: string }> {
  // fetch asks for a compressed answer (accept-encoding: gzip, deflate), so these answers fit.
  const response = await fetch(`${offline.url}/v1/models/iris:predict`, { method: 'POST', body: rows(n) });
  const body = (await response.json()) as { error?: string };
  return { status: response.status, error: body.error };
}

it('requests of 88,539 to 250,000 rows, refused or served, leave a 256 MB function serving one row', async () => {
  // The sequence that left it refusing one row ("this function can give 0 KB ... 206 MB resident outside tensors").
  for (const n of [250_000, 204_782, 204_782, 88_539, 88_539]) {
    const answer = await predict(n);
    expect([200, 413], answer.error).toContain(answer.status);
  }
  for (let i = 0; i < 2; i += 1) {
    const one = await predict(1);
    expect(one.status, one.error).toBe(200);
  }
}, 240_000);
