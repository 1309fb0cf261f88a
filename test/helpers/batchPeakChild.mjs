// The bundled batch scoring handler run as a Lambda of AWS_LAMBDA_FUNCTION_MEMORY_SIZE runs it, on
// an S3 ObjectCreated event for each key given (a folder store: MODEL_STORE_URI, the bucket's name
// unused). Prints, for each, a line: the run's outcome (status, rows) and the process's peak
// resident memory so far (VmHWM).
//   node test/helpers/batchPeakChild.mjs <bundle index.js> <key>...
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [bundle, ...keys] = process.argv.slice(2);
const peakBytes = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const { handler } = await import(pathToFileURL(bundle).href);
for (const key of keys) {
  const event = { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'peak' }, object: { key } } }] };
  const [outcome] = await handler(event, {});
  process.stdout.write(`${JSON.stringify({ status: outcome?.status, rows: outcome?.manifest?.rows, peakBytes: peakBytes() })}\n`);
}
