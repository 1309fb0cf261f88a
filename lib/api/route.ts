/**
 * What a route is, as data: method, paths, the Lambda function that serves it, how API Gateway
 * reaches it, its query and body schemas, and its authorization. routes.ts lists every route;
 * the router (bind.ts), the OpenAPI document (openapi.ts) and the test of serverless.yml's events
 * all read that list, so none of them can drift from the others.
 */
import type { z } from 'zod';
import type { RouteRequest } from '../http/router.js';

/** The Lambda functions that answer HTTP (serverless.yml's names). */
export type FunctionName = 'predict' | 'metadata' | 'evaluate' | 'evaluations' | 'explain' | 'fineTune';

/**
 * read: answers from what is stored, changing nothing; open by default, or behind IAM or a JWT
 * authorizer by configuration (serverless.yml's readAuth param).
 * write: changes the store or starts a job; always behind IAM (callers sign with SigV4 and need
 * execute-api:Invoke on the route).
 */
export type Auth = 'read' | 'write';

/** One route; its key in ROUTES (routes.ts) is its id, by which its handler binds an implementation. */
export interface RouteSpec {
  fn: FunctionName;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The URL paths it answers, `{name}` for a path parameter (which stops at '/' and ':'). */
  paths: readonly string[];
  /**
   * The API Gateway route, when the paths cannot be one: TF Serving's verbs are glued to the last
   * segment (/v1/models/iris:predict), and a path variable must fill a whole segment, so one greedy
   * route takes every POST under /v1/models/ and the handler parses the path.
   */
  gateway?: string;
  auth: Auth;
  summary: string;
  /** Query parameters, validated; strict: one the route does not take is a 400 (routes/query.ts). */
  query: z.ZodObject<z.ZodRawShape, z.core.$strict>;
  /** The JSON body's schema, loaded when first needed (keeps other operations' schemas off a cold start). */
  body?: () => Promise<z.ZodType>;
  /**
   * For a route without a body: what it takes instead, said when one is sent (a body is refused,
   * not ignored). Without it, the answer lists the route's query parameters.
   */
  noBody?: string;
  /** How the body becomes the value the schema validates, when not plain JSON (OIP's binary extension); loaded when first needed. */
  readBody?: () => Promise<(request: RouteRequest) => unknown>;
  /**
   * For a route whose work is timed against the function's timeout (runtime/timeLimit.ts): what a
   * request asks for less of, and what runs the same work with no request timeout, for the 413
   * that refuses work the time left cannot end.
   */
  untimed?: { fewer: string; elsewhere?: string };
  /** Extra request headers it reads, for the OpenAPI document. */
  headers?: Record<string, string>;
  /**
   * Answers besides the common errors, for the OpenAPI document: `schema` the JSON body's (an error
   * status without one has the common error body), `media` other content types.
   */
  responses: Record<string, { description: string; schema?: () => Promise<z.ZodType>; media?: Record<string, object> }>;
  /** Headers of its own in an answer, by status, for the OpenAPI document (x-request-id and the coding headers every answer may have). */
  answerHeaders?: Record<string, Record<string, { description: string; schema: object }>>;
}

/** An answer of bytes (a PNG, the binary tensor data extension), as the OpenAPI document says it. */
export const BINARY = { schema: { type: 'string', format: 'binary' } };

/** The variants of a model route: the default version, `/versions/{version}`, and TF Serving's `/labels/{alias}`. */
export function versioned(base: string, suffix: string, options: { labels?: boolean } = {}): string[] {
  const paths = [`${base}${suffix}`, `${base}/versions/{version}${suffix}`];
  if (options.labels) paths.push(`${base}/labels/{alias}${suffix}`);
  return paths;
}
