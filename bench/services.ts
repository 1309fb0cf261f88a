/**
 * The bench's services and predict handler: built from the environment on first use (after the
 * bench has set POWERTOOLS_* and MODEL_STORE_URI), shared by every section, as one warm Lambda
 * would share them.
 */
import type { HttpHandler } from '../lib/http/handler.js';
import type { Services } from '../lib/services.js';

let services: Promise<Services> | undefined;
export function benchServices(): Promise<Services> {
  services ??= import('../lib/services.js').then((m) => m.createServices());
  return services;
}

let predict: Promise<HttpHandler> | undefined;
export function benchPredictHandler(): Promise<HttpHandler> {
  predict ??= Promise.all([import('../lib/api/bind.js'), import('../lib/api/routes/predict.js'), import('../handlers/predict.js'), benchServices()]).then(
    ([bind, table, handler, s]) => bind.lambdaHandler(table.predictRoutes, handler.routes, s),
  );
  return predict;
}
