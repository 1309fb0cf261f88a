/**
 * A request's query parameters, read by its route's strict schema (routes/query.ts). A parameter the
 * route does not take is a 400 naming it and the ones the route takes; one that a path of the route
 * holds instead (TF Serving's routes name a version or an alias in the path) says which path.
 */
import type { z } from 'zod';
import { BadRequestError, namesListed } from '../errors.js';
import type { RouteSpec } from './route.js';

/**
 * The query a path of the route takes: a path that names the version (`/versions/{version}`)
 * leaves `?alias=` nothing to choose, so there it is refused as any parameter the route does not
 * take (ignored, `/versions/1?alias=nope` was a 200 from version 1). The OpenAPI document lists the
 * same parameters (openapi.ts).
 */
export function queryOf(spec: Pick<RouteSpec, 'query'>, pathParameters: readonly string[]): z.ZodObject {
  return pathParameters.includes('version') && 'alias' in spec.query.shape ? spec.query.omit({ alias: true }) : spec.query;
}

function unknownParameters(spec: Pick<RouteSpec, 'paths'>, query: z.ZodObject, names: string[], pathParameters: Record<string, string>): BadRequestError {
  const takes = Object.keys(query.shape);
  const inPaths = names.flatMap((name) => {
    if (name === 'alias' && pathParameters.version !== undefined) return [`the path names version ${pathParameters.version}`];
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

/**
 * The query as the route's schema reads it (on the path matched); a bad value is the schema's 400, as a bad body field is.
 * A parameter the route takes given more than once is a 400 saying so: API Gateway joins the
 * values with commas (`?alias=a&alias=b` arrives as `a,b`), which would otherwise be refused as a
 * bad value the client never sent, or read as one it did not mean.
 */
export function parseQuery<S extends Pick<RouteSpec, 'query' | 'paths'>>(
  spec: S,
  query: Record<string, string>,
  pathParameters: Record<string, string> = {},
  repeated: readonly string[] = [],
): unknown {
  const schema = queryOf(spec, Object.keys(pathParameters));
  const repeatedTaken = repeated.filter((name) => Object.hasOwn(schema.shape, name));
  if (repeatedTaken.length > 0) {
    const one = repeatedTaken.length === 1;
    throw new BadRequestError(`query parameter${one ? '' : 's'} ${namesListed(repeatedTaken)} ${one ? 'is' : 'are'} given more than once: give ${one ? 'it' : 'each'} once`);
  }
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(query).filter(([name]) => !SIGV4_QUERY.has(name))));
  if (parsed.success) return parsed.data;
  const unknown = parsed.error.issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : []));
  if (unknown.length > 0) throw unknownParameters(spec, schema, unknown, pathParameters);
  throw parsed.error;
}
