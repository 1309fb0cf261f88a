/** Points the handlers' shared store, config and model cache at a given store URI. */
import { resetConfigForTests } from '../../lib/config.js';
import { clearModelCache } from '../../lib/loader/index.js';
import { resetModelStoreForTests } from '../../lib/store/index.js';

export function serveFrom(uri: string, env: Record<string, string> = {}): void {
  process.env.MODEL_STORE_URI = uri;
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  resetConfigForTests();
  resetModelStoreForTests();
  clearModelCache();
}

/** A direct invocation and its JSON answer. */
export interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export type Handler = (event: unknown) => Promise<{ statusCode: number; headers: Record<string, string>; body: unknown }>;

export async function call(handler: Handler, method: string, path: string, body?: unknown): Promise<Answer> {
  const result = await handler({ method, path, body });
  return result as Answer;
}

/** The same request as API Gateway HTTP API (payload 2.0) delivers it: body as a string. */
export async function callHttpApi(handler: Handler, method: string, path: string, body?: string): Promise<Answer> {
  const result = await handler({
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method, path }, requestId: 'test-request' },
    body,
    isBase64Encoded: false,
  });
  return { ...result, body: JSON.parse(result.body as string) };
}
