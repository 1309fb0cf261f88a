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

/** The query as the route's schema reads it; a bad value is the schema's 400, as a bad body field is. */
export function parseQuery<S extends Pick<RouteSpec, 'query' | 'paths'>>(spec: S, query: Record<string, string>): unknown {
  const parsed = spec.query.safeParse(query);
  if (parsed.success) return parsed.data;
  const unknown = parsed.error.issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : []));
  if (unknown.length > 0) throw unknownParameters(spec, unknown);
  throw parsed.error;
}
