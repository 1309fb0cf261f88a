/**
 * Where a handler's time goes: CPU-profiles repeated predict calls on one demo case (V8 sampling
 * profiler through node:inspector) and prints self time grouped by function and by source file.
 *
 *   npx tsx bench/profile.ts digits raw 256        (model, form: raw|oip|png or any for the natural one, batch)
 *   npx tsx bench/profile.ts iris natural 1 --iterations 2000
 */
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.MODEL_STORE_URI ??= pathToFileURL(path.join(repoRoot, 'models')).href;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self milliseconds by key, from a V8 CPU profile. */
function selfTime(profile: Profile, key: (node: ProfileNode) => string): [string, number][] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const k = key(byId.get(id)!);
    totals.set(k, (totals.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(`${repoRoot}/`, '')
    .replace(/^node_modules\//, '') || '(native/vm)';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { iterations: { type: 'string' }, top: { type: 'string', default: '30' } } });
  const [model = 'digits', form = 'raw', batchText = '256'] = positionals;
  const batch = Number(batchText);
  const { loader } = await (await import('./services.js')).benchServices();
  const { parseModelRef } = await import('../lib/registry/index.js');
  const { casesFor } = await import('./requests.js');
  const { handler } = await import('../handlers/predict.js');
  const manifest = await loader.withModel(parseModelRef(model), (l) => l.manifest);
  const cases = await casesFor(manifest, batch);
  const c = cases.find((k) => k.label.includes(`(${form})`)) ?? cases[0];
  const event = { method: 'POST', path: c.path, body: c.body };
  const iterations = Number(values.iterations ?? (batch === 1 ? 3000 : 60));
  for (let i = 0; i < Math.min(iterations, 50); i++) await handler(event); // warm-up (JIT)

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await handler(event);
  const elapsed = performance.now() - started;
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  session.disconnect();

  const top = Number(values.top);
  const total = selfTime(profile, () => 'all').reduce((n, [, ms]) => n + ms, 0);
  const show = (title: string, rows: [string, number][]) => {
    console.log(`\n${title}`);
    for (const [k, ms] of rows.slice(0, top)) console.log(`${((100 * ms) / total).toFixed(1).padStart(5)}%  ${(ms / iterations).toFixed(3).padStart(8)} ms/call  ${k}`);
  };
  console.log(`${c.label} batch ${batch}: ${iterations} calls, ${(elapsed / iterations).toFixed(3)} ms/call`);
  show(
    'self time by function',
    selfTime(profile, (n) => `${n.callFrame.functionName || '(anonymous)'}  ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`),
  );
  show(
    'self time by file',
    selfTime(profile, (n) => shortUrl(n.callFrame.url)),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
