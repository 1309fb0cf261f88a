// One bundled handler run as a Lambda of AWS_LAMBDA_FUNCTION_MEMORY_SIZE runs it, on the requests
// in a JSON file ([{ path, body, headers?, isBase64Encoded? }], body as API Gateway delivers it: a string). Prints, for each, a
// line: its status, its error, the process's peak resident memory so far (VmHWM) and the tensors
// alive after it (TF.js keeps its engine on globalThis, the bundle's included); with
// PEAK_CHILD_BODY=1, a 200's body too. With PEAK_CHILD_ACCEPT_ENCODING, the requests ask for
// that compression (an answer sent compressed is read uncompressed). With PEAK_CHILD_TIMEOUT_MS,
// each request is given that long, as a Lambda context's getRemainingTimeInMillis says.
//   node test/helpers/peakRssChild.mjs <bundle index.js> <requests.json>
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';

const [bundle, requestsFile] = process.argv.slice(2);
const peakBytes = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const { handler } = await import(pathToFileURL(bundle).href);
for (const { path, body, headers = {}, isBase64Encoded = false } of JSON.parse(readFileSync(requestsFile, 'utf8'))) {
  const event = {
    version: '2.0',
    routeKey: `POST ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers, ...(process.env.PEAK_CHILD_ACCEPT_ENCODING ? { 'accept-encoding': process.env.PEAK_CHILD_ACCEPT_ENCODING } : {}) },
    requestContext: { http: { method: 'POST', path }, requestId: 'peak' },
    body,
    isBase64Encoded,
  };
  const timeout = Number(process.env.PEAK_CHILD_TIMEOUT_MS);
  const deadline = performance.now() + timeout;
  const answer = await handler(event, timeout ? { getRemainingTimeInMillis: () => deadline - performance.now() } : {});
  const coding = answer.headers?.['content-encoding'];
  const text = () => (coding === 'gzip' ? gunzipSync(Buffer.from(answer.body, 'base64')).toString('utf8') : answer.body);
  const error = answer.statusCode === 200 ? undefined : JSON.parse(text()).error;
  const answered = process.env.PEAK_CHILD_BODY === '1' && answer.statusCode === 200 ? JSON.parse(text()) : undefined;
  const tensors = globalThis._tfengine?.state.numTensors;
  process.stdout.write(`${JSON.stringify({ status: answer.statusCode, error, peakBytes: peakBytes(), tensors, coding, body: answered })}\n`);
}
