/**
 * A long explanation tells its progress (RunLimits.progress, which modelctl explain draws as a bar):
 * after each chunk of each pass, rows done of the pass's rows, up to all of them.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { explainRequest } from '../../lib/ops/explain/request.js';
import { explain } from '../../lib/ops/explain/service.js';
import { servicesFor } from '../../lib/services.js';

it('kernelShap through digits reports each pass chunk by chunk, rising to its whole', async () => {
  const services = servicesFor({ MODEL_STORE_URI: new URL('../../models', import.meta.url).href, MAX_BATCH: '512' });
  const line = readFileSync(new URL('../../models/_datasets/digits-test.jsonl', import.meta.url), 'utf8').split('\n')[0];
  const request = explainRequest.parse({ instances: [JSON.parse(line).image], method: 'kernelShap', nSamples: 256 });
  const told: { pass: string; done: number; total: number }[] = [];
  const answer = await services.loader.withModel({ name: 'digits', version: 1 }, (loaded) =>
    explain(loaded, request, { ...services.limits, progress: (pass, done, total) => told.push({ pass, done, total }) }),
  );
  expect(answer.data.explanations).toHaveLength(1);
  const passes = new Map<string, { done: number; total: number }[]>();
  for (const t of told) passes.set(`${t.pass} ${t.total}`, [...(passes.get(`${t.pass} ${t.total}`) ?? []), t]);
  // The coalitions' pass is the long one: many chunks, each further on, the last at its whole.
  const longest = [...passes.values()].reduce((a, b) => (b[0].total > a[0].total ? b : a));
  expect(longest[0].total).toBeGreaterThan(512);
  expect(longest.length).toBeGreaterThan(1);
  for (const [i, t] of longest.entries()) if (i > 0) expect(t.done).toBeGreaterThan(longest[i - 1].done);
  expect(longest.at(-1)?.done).toBe(longest[0].total);
  for (const t of told) expect(t.pass).toMatch(/^a forward pass through digits:1$/);
});
