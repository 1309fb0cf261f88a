/**
 * Every HTTP route of the service: one table, kept as one file per Lambda function so that each
 * function's bundle holds only its own routes (and their schemas). Handlers implement the routes
 * of their function by id; docs/openapi.json is generated from this table; a test checks that
 * serverless.yml routes exactly these paths to these functions with this authorization.
 */
import type { RouteSpec } from '../route.js';
import { evaluateRoutes, evaluationsRoutes } from './evaluate.js';
import { explainRoutes } from './explain.js';
import { fineTuneRoutes } from './fineTune.js';
import { metadataRoutes } from './metadata.js';
import { predictRoutes } from './predict.js';

const ROUTES = { ...metadataRoutes, ...predictRoutes, ...explainRoutes, ...evaluateRoutes, ...evaluationsRoutes, ...fineTuneRoutes };

export type RouteId = keyof typeof ROUTES;

/** Every route as a list, each with its id. */
export function routeList(): (RouteSpec & { id: RouteId })[] {
  return (Object.keys(ROUTES) as RouteId[]).map((id) => ({ ...(ROUTES[id] as RouteSpec), id }));
}
