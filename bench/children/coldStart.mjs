// Cold start of the bundled predict handler:
//   node bench/children/coldStart.mjs <predict bundle> <metadata bundle> <path> <body json>
// Prints the answer as soon as it has it (the parent times spawn -> that line), then asks the
// metadata bundle which backend this process runs on (not timed).
import { pathToFileURL } from 'node:url';

const [predictBundle, metadataBundle, path, body] = process.argv.slice(2);
process.on('uncaughtException', (error) => {
  process.stdout.write(`BENCH ${JSON.stringify({ error: error.message })}\n`);
  process.exit(1);
});
const { handler } = await import(pathToFileURL(predictBundle).href);
const importedMs = performance.now();
const answer = await handler({ method: 'POST', path, body: JSON.parse(body) });
const answeredMs = performance.now();
process.stdout.write(`BENCH ${JSON.stringify({ statusCode: answer.statusCode, body: answer.body, importedMs, answeredMs })}\n`);
const metadata = await import(pathToFileURL(metadataBundle).href);
const health = await metadata.handler({ method: 'GET', path: '/v2/health/ready' });
process.stdout.write(`BENCH ${JSON.stringify({ backend: health.body.backend })}\n`);
process.exit(0);
