/**
 * A request's query parameters, read by its route's strict schema (routes/query.ts). A parameter the
 * route does not take is a 400 naming it and the ones the route takes; one that a path of the route
 * holds instead (TF Serving's routes name a version or an alias in the path) says which path.
 */
import { BadRequestError, namesListed } from '../errors.js';
import type { RouteSpec } from './route.js';

function unknownParameters(spec: Pick<RouteSpec, 'query' | 'paths'>, names: string[]): BadRequestError {
  const takes = Object.keys(spec.query.shape);
  const inPaths = names.flatMap((name) => {
    const path = spec.paths.find((p) => p.includes(`{${name}}`));
    return path ? [`${name} goes in the path: ${path}`] : [];
  });
  return new BadRequestError(
    `unknown query parameter${names.length > 1 ? 's' : ''} ${namesListed(names)}: this route takes ${takes.length ? namesListed(takes) : 'none'}${inPaths.length ? ` (${inPaths.join('; ')})` : ''}`,
  );
}

/**
 * SigV4's parameters when a request is signed in its query string (a presigned URL, which API
 * Gateway's IAM authorization accepts as it accepts the Authorization header): API Gateway checked
 * them before the function ran, so they are no route's parameters and no mistake.
 */
const SIGV4_QUERY = new Set(['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token']);

/** The query as the route's schema reads it; a bad value is the schema's 400, as a bad body field is. */
export function parseQuery<S extends Pick<RouteSpec, 'query' | 'paths'>>(spec: S, query: Record<string, string>): unknown {
  const parsed = spec.query.safeParse(Object.fromEntries(Object.entries(query).filter(([name]) => !SIGV4_QUERY.has(name))));
  if (parsed.success) return parsed.data;
  const unknown = parsed.error.issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : []));
  if (unknown.length > 0) throw unknownParameters(spec, unknown);
  throw parsed.error;
}
