/**
 * A Lambda's HTTP handler from the route table: the routes of one function, each bound to its
 * implementation, with the query and the body validated by the route's schemas before the
 * implementation runs. Implementations are typed from the table: a parsed body is the schema's
 * output (cross-field rules included), so nothing needs re-checking.
 */
import type { z } from 'zod';
import { PayloadTooLargeError } from '../errors.js';
import { jsonBody, refuseBody } from '../http/body.js';
import { decodeContent } from '../http/contentEncoding.js';
import { httpHandler, type HttpHandler } from '../http/handler.js';
import type { Reply, Route, RouteRequest } from '../http/router.js';
import { logger } from '../observability.js';
import { noteMemoryRefusal, startRequest } from '../runtime/footprint.js';
import { withRecovery } from '../runtime/recovery.js';
import type { TimeLimit } from '../runtime/timeLimit.js';
import { createServices, type Services } from '../services.js';
import { validateJobId } from '../jobs/records.js';
import { validateName, validateVersion } from '../registry/names.js';
import { answerInTime } from './answerInTime.js';
import { parseQuery } from './queryParameters.js';
import type { RouteSpec } from './route.js';

type QueryOf<S> = S extends { query: infer Q extends z.ZodType } ? z.output<Q> : never;
type BodyOf<S> = S extends { body: () => Promise<infer B extends z.ZodType> } ? z.output<B> : undefined;

export interface RouteContext<S> {
  request: RouteRequest;
  params: Record<string, string>;
  query: QueryOf<S>;
  body: BodyOf<S>;
  services: Services;
  /** The function's time left, when it runs under a timeout: the model's wait and the work are bounded by it. */
  time: TimeLimit | undefined;
}

/** One implementation per route of the function (lib/api/routes/<function>.ts), no more, no less. */
export type Implementations<R extends Record<string, RouteSpec>> = { [K in keyof R]: (context: RouteContext<R[K]>) => Promise<Reply> };

/** Path parameters are checked before anything else: a bad name must never reach the store. */
const PATH_PARAMETERS: Record<string, (value: string) => unknown> = {
  model: (value) => validateName(value),
  alias: (value) => validateName(value, 'alias'),
  version: validateVersion,
  id: validateJobId,
};

const timeOf = (request: RouteRequest, spec: RouteSpec): TimeLimit | undefined =>
  request.remainingMs ? { remainingMs: request.remainingMs, noun: spec.untimed?.fewer, elsewhere: spec.untimed?.elsewhere } : undefined;

function checkPathParameters(params: Record<string, string>): void {
  for (const [name, value] of Object.entries(params)) PATH_PARAMETERS[name]?.(value);
}

/** What a route without a body takes, from its query schema. */
function withoutBody(spec: RouteSpec): string {
  const names = Object.keys(spec.query.shape);
  return names.length === 0 ? 'it takes nothing besides its path' : `its options are query parameters (${names.join(', ')})`;
}

function bind(spec: RouteSpec, implement: (context: RouteContext<unknown>) => Promise<Reply>, services: Services): Route[] {
  let bodySchema: z.ZodType | undefined;
  let readBody: ((request: RouteRequest) => unknown) | undefined;
  const handle = async (received: RouteRequest): Promise<Reply> => {
    // The garbage of the requests before this one is collected first when it is large, or when the
    // last was refused for memory (runtime/footprint.ts): before this body is parsed.
    startRequest();
    checkPathParameters(received.params);
    const query = parseQuery(spec, received.query, received.params, received.repeatedQuery);
    let body: unknown;
    let request = received;
    if (spec.body) {
      // A compressed body (Content-Encoding gzip or deflate) is read as the bytes it stands for.
      request = decodeContent(received);
      bodySchema ??= await spec.body();
      if (spec.readBody) {
        readBody ??= await spec.readBody();
        body = bodySchema.parse(readBody(request));
      } else body = jsonBody(request, bodySchema);
    } else refuseBody(received, spec.noBody ?? withoutBody(spec));
    // A backend fault resets TF.js before this request's 500, so the next request is served.
    const time = timeOf(request, spec);
    const work = withRecovery(() => implement({ request, params: request.params, query: query as never, body: body as never, services, time }));
    try {
      // A write on a store that stopped answering is answered before the function's timeout.
      return await (spec.auth === 'write' ? answerInTime(work, time) : work);
    } catch (error) {
      if (error instanceof PayloadTooLargeError) noteMemoryRefusal();
      throw error;
    }
  };
  return spec.paths.map((path) => ({ method: spec.method, path, handle }));
}

/**
 * The function's Lambda handler, over `services` (by default built from the environment, once per
 * process, at module load: Lambda's init phase). MODEL_PRELOAD's models start loading then too.
 */
export function lambdaHandler<R extends Record<string, RouteSpec>>(routes: R, implementations: Implementations<R>, services: Services = createServices()): HttpHandler {
  if (services.config.preload.length > 0) {
    void services.loader.preload(services.config.preload).catch((error: unknown) => logger.error('preload failed', { error: error as Error }));
  }
  const table = implementations as Record<string, (context: RouteContext<unknown>) => Promise<Reply>>;
  return httpHandler(Object.entries(routes).flatMap(([id, spec]) => bind(spec, table[id], services)));
}
