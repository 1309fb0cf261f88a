/**
 * Routes as `METHOD /path/{param}` patterns, matched against the request path. TF Serving's
 * verbs are glued to the last segment (`/v1/models/iris:predict`), so a parameter stops at ':'.
 */
import { BadRequestError, NotFoundError, ServiceError } from '../errors.js';
import type { HttpRequest } from './request.js';

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** Serialised as JSON unless contentType says otherwise (then a string, or bytes sent base64-encoded). */
  body: unknown;
  contentType?: string;
  /** The JSON text of `body` where a protocol writes it otherwise than JSON.stringify would (TF Serving's floats); a direct invocation still gets `body`. */
  jsonText?: () => string;
  /** What the request's rows are called where it has its own word for them (TF Serving's :classify: "examples"), for a 413 on the answer's size. */
  noun?: string;
  /**
   * What to ask for instead when the answer, built, is `bytes` (over Lambda's limit), where the route
   * knows better than "fewer rows": how many of its rows fit, or what one row too large can do.
   */
  tooLargeAdvice?: (bytes: number) => string;
}

export interface RouteRequest extends HttpRequest {
  params: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  handle(request: RouteRequest): Promise<Reply>;
}

/** A path served, by other methods: 405 with the Allow header that lists them (RFC 9110, 15.5.6). */
class MethodNotAllowedError extends ServiceError {
  override readonly statusCode = 405;
  override readonly headers: Record<string, string>;
  constructor(message: string, allowed: string[]) {
    super(message);
    this.headers = { allow: allowed.join(', ') };
  }
}

interface Compiled {
  route: Route;
  regex: RegExp;
  names: string[];
}

function compile(route: Route): Compiled {
  const names: string[] = [];
  const source = route.path
    .split(/(\{[a-zA-Z]+\})/)
    .map((part) => {
      const param = /^\{([a-zA-Z]+)\}$/.exec(part);
      if (!param) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]);
      return '([^/:]+)';
    })
    .join('');
  return { route, regex: new RegExp(`^${source}/?$`), names };
}

/**
 * The path with each segment decoded (API Gateway may leave %3A for ':'), except '/' and '%',
 * which stay encoded: an encoded '/' is part of a name (which the name's check then refuses),
 * not a segment boundary that would route the request elsewhere.
 */
function decodedSegments(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => decodeURIComponent(segment).replace(/[%/]/g, (c) => encodeURIComponent(c)))
    .join('/');
}

export function createRouter(routes: Route[]): (request: HttpRequest) => { route: Route; params: Record<string, string> } {
  const compiled = routes.map(compile);
  return (request) => {
    let path: string;
    try {
      path = decodedSegments(request.path);
    } catch {
      throw new BadRequestError(`malformed percent-encoding in ${request.path}`);
    }
    const matching = compiled.filter((c) => c.regex.test(path));
    // HEAD is GET without the answer's body (RFC 9110, 9.3.2): a route served by GET serves it.
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const hit = matching.find((c) => c.route.method === method);
    const values = hit?.regex.exec(path);
    if (!hit || !values) {
      if (matching.length > 0) {
        const allowed = [...new Set(matching.flatMap((c) => (c.route.method === 'GET' ? ['GET', 'HEAD'] : [c.route.method])))];
        throw new MethodNotAllowedError(`${request.method} is not allowed on ${path}: use ${allowed.join(', ')}`, allowed);
      }
      throw new NotFoundError(`no route for ${request.method} ${path}`);
    }
    return { route: hit.route, params: Object.fromEntries(hit.names.map((name, i) => [name, decodeURIComponent(values[i + 1])])) };
  };
}
