/**
 * The handlers over a store of the test's choosing: services built from a configuration of their
 * own (process.env is not read), each handler bound to them as the Lambda entry points are.
 */
import { batchScore } from '../../handlers/batchScore.js';
import { routes as evaluateRoutes } from '../../handlers/evaluate.js';
import { routes as evaluationsRoutes } from '../../handlers/evaluations.js';
import { routes as explainRoutes } from '../../handlers/explain.js';
import { routes as fineTuneRoutes } from '../../handlers/fineTune.js';
import { jobWorker } from '../../handlers/jobWorker.js';
import { routes as metadataRoutes } from '../../handlers/metadata.js';
import { routes as predictRoutes } from '../../handlers/predict.js';
import { lambdaHandler } from '../../lib/api/bind.js';
import { evaluateRoutes as evaluateTable, evaluationsRoutes as evaluationsTable } from '../../lib/api/routes/evaluate.js';
import { explainRoutes as explainTable } from '../../lib/api/routes/explain.js';
import { fineTuneRoutes as fineTuneTable } from '../../lib/api/routes/fineTune.js';
import { metadataRoutes as metadataTable } from '../../lib/api/routes/metadata.js';
import { predictRoutes as predictTable } from '../../lib/api/routes/predict.js';
import type { Job } from '../../lib/jobs/index.js';
import { servicesFor, type Services } from '../../lib/services.js';

const routeTables = { predict: predictTable, metadata: metadataTable, explain: explainTable, evaluate: evaluateTable, evaluations: evaluationsTable, fineTune: fineTuneTable };

export interface App {
  services: Services;
  predict: Handler;
  metadata: Handler;
  explain: Handler;
  evaluate: Handler;
  evaluations: Handler;
  fineTune: Handler;
  jobWorker: ReturnType<typeof jobWorker>;
  batchScore: ReturnType<typeof batchScore>;
}

/** Every handler over the store at `uri`, with these settings (variable names as in lib/config.ts). */
export function serving(uri: string, env: Record<string, string> = {}): App {
  const services = servicesFor({ MODEL_STORE_URI: uri, ...env });
  return {
    services,
    predict: lambdaHandler(routeTables.predict, predictRoutes, services),
    metadata: lambdaHandler(routeTables.metadata, metadataRoutes, services),
    explain: lambdaHandler(routeTables.explain, explainRoutes, services),
    evaluate: lambdaHandler(routeTables.evaluate, evaluateRoutes, services),
    evaluations: lambdaHandler(routeTables.evaluations, evaluationsRoutes, services),
    fineTune: lambdaHandler(routeTables.fineTune, fineTuneRoutes, services),
    jobWorker: jobWorker(services),
    batchScore: batchScore(services),
  };
}

/** A direct invocation and its JSON answer. */
export interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: any;
}

export type Handler = (event: unknown, context?: { awsRequestId?: string }) => Promise<{ statusCode: number; headers: Record<string, string>; body: unknown }>;

export async function call(handler: Handler, method: string, path: string, body?: unknown): Promise<Answer> {
  const result = await handler({ method, path, body });
  return result as Answer;
}

/** An API Gateway HTTP API (payload 2.0) event: body as a string, API Gateway's own request id. */
export function httpApiEvent(method: string, path: string, body?: string, gatewayRequestId = 'test-request') {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method, path }, requestId: gatewayRequestId },
    body,
    isBase64Encoded: false,
  };
}

/** The same request as API Gateway HTTP API delivers it. */
export async function callHttpApi(handler: Handler, method: string, path: string, body?: string): Promise<Answer> {
  const result = await handler(httpApiEvent(method, path, body));
  return { ...result, body: JSON.parse(result.body as string) };
}

/** Polls GET /v2/jobs/{id} until the job has succeeded or failed (at most a minute). */
export async function waitForJob(app: App, id: string): Promise<Job> {
  for (let i = 0; i < 600; i += 1) {
    const job = (await call(app.metadata, 'GET', `/v2/jobs/${id}`)).body as Job;
    if (job.status === 'succeeded' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}
