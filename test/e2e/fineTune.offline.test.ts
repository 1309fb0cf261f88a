/**
 * The fine-tune story over real HTTP, as a user runs it with `npm start`: fine-tune iris on new
 * rows, poll the job, promote the new version, see predict answer with it, roll back, and see
 * the old answers again. Runs on a copy of models/ so the repo's demo models stay untouched.
 */
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOffline, type Offline } from '../helpers/offline.js';

let offline: Offline;
beforeAll(async () => {
  const copy = await mkdtemp(path.join(tmpdir(), 'models-'));
  await cp('models', copy, { recursive: true });
  offline = await startOffline({ MODEL_STORE_URI: pathToFileURL(copy).href, MODEL_ALIAS_TTL_SECONDS: '1' });
});
afterAll(async () => offline?.stop());

async function http(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${offline.url}${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

describe('fine-tune over HTTP (serverless offline, job worker invoked asynchronously)', () => {
  it('fine-tunes, promotes, serves the new version, rolls back to the old answers', async () => {
    const [header, ...lines] = (await readFile('models/_datasets/iris-test.csv', 'utf8')).trim().split('\n');
    const names = header.split(',').slice(0, 4);
    const instances = lines.map((l) =>
      Object.fromEntries(
        l
          .split(',')
          .slice(0, 4)
          .map((v, i) => [names[i], Number(v)]),
      ),
    );
    const labels = lines.map((l) => l.split(',')[4]);
    const probe = { instances: [{ sepal_length: 6.0, sepal_width: 2.7, petal_length: 5.1, petal_width: 1.6 }], raw: true };
    const before = (await http('POST', '/v1/models/iris:predict', probe)).body;

    const accepted = await http('POST', '/v2/models/iris/fine-tune', { instances, labels, config: { epochs: 30, learningRate: 0.05 } });
    expect(accepted.status).toBe(202);
    let job = (await http('GET', `/v2/jobs/${accepted.body.id}`)).body;
    for (let i = 0; i < 300 && job.status !== 'succeeded' && job.status !== 'failed'; i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await http('GET', `/v2/jobs/${accepted.body.id}`)).body;
    }
    expect(job.status).toBe('succeeded');
    const version = job.result.version as number;

    expect((await http('PUT', '/v2/models/iris/aliases/production', { version })).body).toMatchObject({ version, previous: [1] });
    await new Promise((r) => setTimeout(r, 1100));
    const promoted = (await http('POST', '/v1/models/iris:predict', probe)).body;
    expect(promoted.model_version).toBe(String(version));
    expect(promoted.predictions).not.toEqual(before.predictions);

    expect((await http('POST', '/v2/models/iris/aliases/production/rollback')).body).toMatchObject({ version: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await http('POST', '/v1/models/iris:predict', probe)).body).toEqual(before);
  });

  it('trains the digits conv net (every layer) in the bundled job worker on wasm', async () => {
    const accepted = await http('POST', '/v2/models/digits/fine-tune', {
      dataset: '_datasets/digits-test.jsonl',
      validation: { split: 0.25 },
      config: { epochs: 1, learningRate: 0.0005 },
    });
    expect(accepted.status).toBe(202);
    let job = (await http('GET', `/v2/jobs/${accepted.body.id}`)).body;
    for (let i = 0; i < 600 && job.status !== 'succeeded' && job.status !== 'failed'; i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await http('GET', `/v2/jobs/${accepted.body.id}`)).body;
    }
    expect(job.status).toBe('succeeded');
    expect(job.result.metrics.accuracy).toBeGreaterThanOrEqual(job.result.baseMetrics.accuracy);
    expect(job.result.history).toHaveLength(1);
    expect((await http('GET', `/v2/models/digits/versions/${job.result.version}`)).body.lineage).toMatchObject({ parent: 1, jobId: job.id });
  });
});
