// Fresh-process model load: node bench/children/loadModel.mjs <metadata bundle> <model>
// Times are ms since this process started (performance.timeOrigin): import of the built bundle,
// backend start (GET /v2/health/ready), then the model's first load (GET /v2/models/<m>/ready).
import { pathToFileURL } from 'node:url';

const [bundle, model] = process.argv.slice(2);
process.on('uncaughtException', (error) => {
  process.stdout.write(`BENCH ${JSON.stringify({ error: error.message })}\n`);
  process.exit(1);
});
const { handler } = await import(pathToFileURL(bundle).href);
const importedMs = performance.now();
const health = await handler({ method: 'GET', path: '/v2/health/ready' });
const backendMs = performance.now();
const ready = await handler({ method: 'GET', path: `/v2/models/${model}/ready` });
const readyMs = performance.now();
if (ready.statusCode !== 200) throw new Error(`model ${model} is not ready: ${JSON.stringify(ready.body)}`);
process.stdout.write(`BENCH ${JSON.stringify({ importedMs, backendMs, readyMs, backend: health.body.backend })}\n`);
process.exit(0);
