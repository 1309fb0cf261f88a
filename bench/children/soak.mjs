// The soak: N mixed requests (valid, invalid and random bodies; every demo model; every route kind)
// through the BUILT handlers of every HTTP function (one bundle exporting them all:
// bench/soakHandlers/all.ts), all in this one process, as API Gateway (payload 2.0) delivers them.
//   node bench/children/soak.mjs <bundle> <models folder> <requests> <seed>
// Reports memory (after a full GC) at the start, after request 1,000 and at the end, the tensors
// alive, and the answers by status; every 5xx is listed with its route.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const [bundle, modelsDir, countText, seedText] = process.argv.slice(2);
const COUNT = Number(countText);
const CHECKPOINT = Math.min(1000, COUNT);
// V8 has sized its young generation up (to 16 MB semi-spaces) by request 1,000 and compiles most
// of its code over the first few thousand: from here on, memory that still grows is mostly kept
// (compiled code still grows until about request 10,000: docs/ARCHITECTURE.md, malloc).
const SETTLED = Math.min(3000, COUNT);
const say = (report) => process.stdout.write(`BENCH ${JSON.stringify(report)}\n`);
process.on('uncaughtException', (error) => {
  say({ error: `uncaught: ${error.stack ?? error.message}` });
  process.exit(1);
});
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

// mulberry32: a small seeded generator, so every run sends the same requests.
let state = Number(seedText) >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(random() * list.length)];
const int = (n) => Math.floor(random() * n);

// Real rows of the demo data sets.
const lines = (file) =>
  readFileSync(path.join(modelsDir, '_datasets', file), 'utf8')
    .trim()
    .split('\n');
const csvRows = (file) => {
  const [header, ...rows] = lines(file);
  const names = header.split(',');
  return rows.map((row) => Object.fromEntries(row.split(',').map((v, i) => [names[i], Number.isNaN(Number(v)) ? v : Number(v)])));
};
const iris = csvRows('iris-test.csv');
const housing = csvRows('housing-test.csv');
const spam = lines('spam-test.jsonl')
  .slice(0, 50)
  .map((l) => JSON.parse(l));
const digits = lines('digits-test.jsonl')
  .slice(0, 50)
  .map((l) => JSON.parse(l));
const features = (row, label) => Object.fromEntries(Object.entries(row).filter(([k]) => k !== label));

/** A random JSON value, for bodies that are wrong in ways nobody planned. */
function junk(depth = 0) {
  const r = random();
  if (depth > 2 || r < 0.3) return pick([null, true, -1, 0, 1e308, 'x', '', '\u0000', 'NaN', -0.5]);
  if (r < 0.6) return Array.from({ length: int(4) }, () => junk(depth + 1));
  return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(['instances', 'inputs', 'labels', 'method', 'steps', 'x', 'dataset', 'config']), junk(depth + 1)]));
}

const MODELS = ['iris', 'housing', 'spam', 'digits'];
const instanceOf = {
  iris: () => features(pick(iris), 'species'),
  housing: () => features(pick(housing), 'medv'),
  spam: () => pick(spam).text,
  digits: () => pick(digits).image,
};
const labelled = {
  iris: (n) => {
    const rows = Array.from({ length: n }, () => pick(iris));
    return { instances: rows.map((r) => features(r, 'species')), labels: rows.map((r) => r.species) };
  },
  digits: (n) => {
    const rows = Array.from({ length: n }, () => pick(digits));
    return { instances: rows.map((r) => r.image), labels: rows.map((r) => r.label) };
  },
};

/** [function, method, path, body]: each kind of request, with its weight. */
const KINDS = [
  [
    12,
    () => {
      const m = pick(MODELS);
      return ['predict', 'POST', `/v1/models/${m}:predict`, { instances: Array.from({ length: 1 + int(8) }, instanceOf[m]) }];
    },
  ],
  [6, () => ['predict', 'POST', '/v2/models/iris/infer', { inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] }]],
  [3, () => ['predict', 'POST', '/v1/models/digits:predict', { instances: Array.from({ length: 64 }, instanceOf.digits) }]],
  [3, () => ['predict', 'POST', `/v2/models/${pick(MODELS)}/preprocess`, { instances: [instanceOf.digits()] }]],
  [6, () => ['predict', 'POST', `/v1/models/${pick([...MODELS, 'nope', '..', 'iris:2'])}:predict`, junk()]],
  [
    4,
    () => [
      'predict',
      'POST',
      `/v2/models/${pick(MODELS)}/infer`,
      pick(['{', '[]', 'null', '{"inputs":[{"name":"x","shape":[1e9],"datatype":"FP32","data":[]}]}', '{"instances":[[1,2,3]]}']),
    ],
  ],
  [
    6,
    () => [
      'metadata',
      'GET',
      pick([
        '/v2',
        '/v2/health/live',
        '/v2/health/ready',
        '/v2/models',
        `/v2/models/${pick(MODELS)}`,
        `/v1/models/${pick(MODELS)}/metadata`,
        '/v2/models/ghost',
        `/v2/jobs/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`,
        '/v2/jobs/not-an-id',
      ]),
      undefined,
    ],
  ],
  [4, () => ['explain', 'POST', '/v2/models/digits/explain', { instances: [instanceOf.digits()], method: pick(['saliency', 'integratedGradients', 'smoothGrad']) }]],
  [3, () => ['explain', 'POST', '/v2/models/iris/explain', { instances: [instanceOf.iris()], method: 'kernelShap', nSamples: 64 }]],
  [2, () => ['explain', 'POST', '/v2/models/spam/explain', { instances: [instanceOf.spam()], method: 'integratedGradients', steps: 16 }]],
  [4, () => ['explain', 'POST', `/v2/models/${pick(MODELS)}/explain`, junk()]],
  [3, () => ['evaluate', 'POST', '/v2/models/iris/evaluate', labelled.iris(5 + int(20))]],
  [1, () => ['evaluate', 'POST', '/v2/models/iris/evaluate', { dataset: '_datasets/iris-test.csv', labelColumn: 'species' }]],
  [1, () => ['evaluate', 'POST', '/v2/models/digits/evaluate', labelled.digits(16)]],
  [3, () => ['evaluate', 'POST', `/v2/models/${pick(MODELS)}/evaluate`, pick([junk(), { ...labelled.iris(3), save: true }, { dataset: '../../etc/passwd' }])]],
  [1, () => ['evaluations', 'POST', '/v2/models/iris/evaluations', { ...labelled.iris(10), save: random() < 0.2 }]],
  [2, () => ['evaluations', 'POST', `/v2/models/${pick(MODELS)}/evaluations`, junk()]],
  [
    3,
    () => [
      'fineTune',
      'POST',
      `/v2/models/${pick(MODELS)}/fine-tune`,
      pick([junk(), { ...labelled.iris(4), config: { batchSize: 0 } }, { ...labelled.iris(4), config: { trainableLayers: ['nope'] } }]),
    ],
  ],
  [
    2,
    () => [
      'fineTune',
      pick(['PUT', 'POST']),
      `/v2/models/iris/aliases/${pick(['production', 'Bad Alias'])}${random() < 0.5 ? '/rollback' : ''}`,
      pick([{ version: 1 }, { version: 99 }, junk()]),
    ],
  ],
];
const totalWeight = KINDS.reduce((sum, [w]) => sum + w, 0);
function nextRequest() {
  let r = random() * totalWeight;
  for (const [weight, make] of KINDS) {
    r -= weight;
    if (r < 0) return make();
  }
  return KINDS[0][1]();
}

function event(method, route, body) {
  const [rawPath, rawQueryString = ''] = route.split('?');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method, path: rawPath }, requestId: `soak-${Math.floor(random() * 1e9)}` },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const handlers = await import(pathToFileURL(bundle).href);
const engine = () => globalThis._tfengine;
function memory() {
  gc();
  gc();
  // A full collection frees array buffers' memory on a background thread after it returns; a
  // scavenge waits for that (lib/runtime/footprint.ts), so RSS is read once what was freed is gone.
  gc({ type: 'minor' });
  const m = process.memoryUsage();
  const mb = (b) => Math.round((b / 2 ** 20) * 10) / 10;
  // The wasm backend's heap only grows (WebAssembly memory cannot shrink): its size is the largest working set so far.
  const wasmHeap = engine()?.registry?.wasm?.wasm?.HEAPU8?.length ?? 0;
  return {
    rssMb: mb(m.rss),
    heapTotalMb: mb(m.heapTotal),
    heapUsedMb: mb(m.heapUsed),
    externalMb: mb(m.external),
    wasmHeapMb: mb(wasmHeap),
    tensors: engine()?.state.numTensors ?? 0,
    tensorMb: mb(engine()?.state.numBytes ?? 0),
  };
}

const start = memory();
const statuses = {};
/** RSS every 1,000 requests. */
const series = [];
const serverErrors = [];
let atCheckpoint;
let atSettled;
let tensorsAtCheckpoint;
const started = performance.now();
for (let i = 1; i <= COUNT; i += 1) {
  const [fn, method, route, body] = nextRequest();
  const answer = await handlers[fn](event(method, route, body), { awsRequestId: `soak-${i}` });
  statuses[answer.statusCode] = (statuses[answer.statusCode] ?? 0) + 1;
  if (answer.statusCode >= 500) serverErrors.push({ i, fn, method, route, status: answer.statusCode, body: String(answer.body).slice(0, 200) });
  if (i === CHECKPOINT) {
    atCheckpoint = memory();
    tensorsAtCheckpoint = atCheckpoint.tensors;
  }
  if (i === SETTLED) atSettled = memory();
  if (i % 1000 === 0) {
    const { rssMb, heapTotalMb, wasmHeapMb } = memory();
    series.push({ i, rssMb, heapTotalMb, wasmHeapMb });
  }
}
const seconds = (performance.now() - started) / 1000;
const end = memory();
say({
  requests: COUNT,
  checkpoint: CHECKPOINT,
  settled: SETTLED,
  atSettled,
  seconds: Math.round(seconds * 10) / 10,
  start,
  atCheckpoint,
  end,
  statuses,
  series,
  serverErrors: serverErrors.slice(0, 20),
  serverErrorCount: serverErrors.length,
  tensorsLeft: end.tensors - tensorsAtCheckpoint,
});
process.exit(0);
