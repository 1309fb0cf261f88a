/**
 * The OpenAPI 3.1 document, generated from the route table and the same zod schemas that validate
 * requests, so the documentation cannot drift from what the handlers accept. Served at
 * GET /openapi.json and written to docs/openapi.json by the build.
 */
import { z } from 'zod';
import { queryOf } from './queryParameters.js';
import type { RouteSpec } from './route.js';
import { routeList } from './routes/index.js';
import { serverMetadata } from './server.js';

const errorBody = z.object({ error: z.string(), requestId: z.string().optional() }).describe('error answer');

const jsonSchema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
const json = (s: z.ZodType) => ({ content: { 'application/json': { schema: jsonSchema(s) } } });

const ERRORS = {
  '400': {
    description: 'bad request: the message names the field and what was expected (a query parameter the route does not take is refused too, naming the ones it takes)',
    ...json(errorBody),
  },
  '404': { description: 'unknown model, version, alias or job, or a data set the request names that is not in the store', ...json(errorBody) },
  '413': {
    description:
      'body over 6 MB (a compressed body: once inflated), an answer that would be over the 6 MB Lambda can return (compressed, when Accept-Encoding takes gzip or deflate), or more work than one request may ask for',
    ...json(errorBody),
  },
  '429': { description: 'throttled by API Gateway (the stage or route rate and burst limits)' },
  '500': {
    description:
      'the model version is damaged in the store (its files do not match its manifest: a retry reads the same bytes), was made on another TF.js backend that this function cannot run it on (the message names both and the setting), the store refused access or is misconfigured (a retry fails the same way until the operator fixes it), or an internal error; no internals shown, the log line with the requestId has them',
    ...json(errorBody),
  },
  '503': { description: 'the model, the store or the job worker cannot be reached now (Retry-After)', ...json(errorBody) },
};

/** The errors only a request with a body can meet. */
const BODY_ERRORS = {
  '415': {
    description:
      'a Content-Encoding other than gzip, deflate or identity, or a body of a type that is not read (a form upload, an image file sent as image/* where JSON is read: the message says how to send it)',
    ...json(errorBody),
  },
  '422': {
    description:
      'well formed, but the model cannot answer it: its output for a row is not a finite number (NaN or Infinity), so no label or value can be answered; an input of a shape the signature leaves unchecked fails in the model; or an output that is not one row per instance cannot be joined across the calls the rows ran in',
    ...json(errorBody),
  },
};

/** What API Gateway answers itself when its authorizer refuses a call, before any function runs. */
const gatewayRefusal = z.object({ message: z.string() }).describe("API Gateway's own answer");
const AUTH_ERRORS = {
  '401': { description: 'a read route behind the JWT authorizer (readAuth=jwt) called without a valid token; answered by API Gateway', ...json(gatewayRefusal) },
  '403': {
    description: 'a route behind IAM (every write; reads with readAuth=iam) called unsigned, or by a principal its policy does not allow; answered by API Gateway',
    ...json(gatewayRefusal),
  },
};

/** Response headers (lib/http/handler.ts, errors.ts, compression.ts, the binary extension). */
const header = (description: string) => ({ description, schema: { type: 'string' } });
const EVERY_ANSWER_HEADERS = {
  'x-request-id': header("the function's invocation id; a 5xx's log line carries it"),
  'Content-Encoding': header('gzip or deflate, when Accept-Encoding asked for it and the answer is over 1 KiB'),
  Vary: header('Accept-Encoding, on a compressed answer'),
};
const STATUS_HEADERS: Record<string, Record<string, object>> = {
  '503': { 'Retry-After': header('seconds to wait before calling again') },
};

const PATH_PARAMETERS: Record<string, string> = {
  model: 'model name',
  version: 'an integer version',
  alias: 'an alias such as production',
  id: 'the job id',
};

const optionalHeader = (name: string, description: string) => ({ name, in: 'header', required: false, schema: { type: 'string' }, description });

/** Content codings (lib/http/contentEncoding.ts, compression.ts): every route answers compressed, and a body may come compressed. */
const ACCEPT_ENCODING = optionalHeader(
  'Accept-Encoding',
  'gzip or deflate (q-values honoured, gzip preferred): an answer over 1 KiB comes compressed, with Content-Encoding and Vary: Accept-Encoding; the 6 MB a Lambda function can return then counts the compressed bytes',
);
const CONTENT_ENCODING = optionalHeader(
  'Content-Encoding',
  'gzip, deflate or identity: a compressed body is inflated before it is read, up to 6 MB (past it 413); corrupt data is a 400, another coding a 415. Send it as application/octet-stream: as text (application/json) a gateway may decode it as UTF-8 on the way, which alters it (serverless offline does)',
);

function parameters(path: string, spec: RouteSpec): object[] {
  const names = [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name);
  const inPath = names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description: PATH_PARAMETERS[name] }));
  const { headers = {}, body } = spec;
  const hasBody = body !== undefined;
  const inHeaders = [
    ...Object.entries(headers).map(([name, description]) => ({ name, in: 'header', required: false, schema: { type: 'integer' }, description })),
    ...(hasBody ? [CONTENT_ENCODING] : []),
    ACCEPT_ENCODING,
  ];
  const properties = (jsonSchema(queryOf(spec, names)) as { properties?: Record<string, { description?: string }> }).properties ?? {};
  const inQuery = Object.entries(properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema, description: schema.description }));
  return [...inPath, ...inQuery, ...inHeaders];
}

/**
 * JSON, and as application/octet-stream the same JSON compressed (Content-Encoding) or, for a route
 * that reads binary bodies (OIP's extension), the JSON header and then the binary tensor data.
 */
async function requestBody(spec: RouteSpec): Promise<object> {
  const schema = json(await (spec.body as () => Promise<z.ZodType>)());
  const description = spec.headers?.['Inference-Header-Content-Length']
    ? 'the JSON header, then the binary tensor data (see Inference-Header-Content-Length); or the JSON body compressed (Content-Encoding)'
    : 'the JSON body compressed (Content-Encoding)';
  return { content: { ...schema.content, 'application/octet-stream': { schema: { type: 'string', format: 'binary', description } } } };
}

async function operation(spec: RouteSpec, path: string): Promise<object> {
  const responses: Record<string, { description: string }> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    const body = response.schema ? await response.schema() : Number(status) >= 400 ? errorBody : undefined;
    const content = { ...(body ? json(body).content : {}), ...response.media };
    responses[status] = { description: response.description, ...(Object.keys(content).length > 0 ? { content } : {}) };
  }
  // A route's own 403 (a refusal of ours) says more than the gateway's; both bodies are possible.
  // A write is behind IAM alone: no JWT authorizer answers it 401.
  const { '401': jwt, ...iam } = AUTH_ERRORS;
  const authErrors = { ...(spec.auth === 'read' ? { '401': jwt } : {}), ...(responses['403'] ? {} : iam) };
  // A status both the route and the common list name is described by both (the route's first):
  // the common one alone hid a job route's 422 (its Idempotency-Key sent with another request).
  const common: Record<string, { description: string }> = { ...ERRORS, ...(spec.body ? BODY_ERRORS : {}), ...authErrors };
  const merged: Record<string, object> = { ...common, ...responses };
  for (const [status, own] of Object.entries(responses)) {
    if (common[status]) merged[status] = { ...common[status], ...own, description: `${own.description}; or ${common[status].description}` };
  }
  const all = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => Number(a) - Number(b)));
  for (const [status, response] of Object.entries(all)) {
    all[status] = { ...response, headers: { ...EVERY_ANSWER_HEADERS, ...STATUS_HEADERS[status], ...spec.answerHeaders?.[status] } };
  }
  return {
    summary: spec.summary,
    // Writes always need SigV4; reads are open unless the deployment chose IAM or a JWT authorizer.
    security: spec.auth === 'write' ? [{ sigv4: [] }] : [{}, { sigv4: [] }, { jwt: [] }],
    parameters: parameters(path, spec),
    ...(spec.body ? { requestBody: { required: true, ...(await requestBody(spec)) } } : {}),
    responses: all,
  };
}

export async function openApiDocument(): Promise<object> {
  const paths: Record<string, Record<string, object>> = {};
  for (const spec of routeList()) {
    for (const path of spec.paths) {
      paths[path] ??= {};
      paths[path][spec.method.toLowerCase()] = await operation(spec, path);
    }
  }
  const { name, version } = serverMetadata();
  return {
    openapi: '3.1.0',
    info: {
      title: name,
      version,
      description: 'Predict, explain, evaluate and fine-tune TensorFlow.js models (OIP v2 and TF Serving REST shapes), with metadata, health and jobs.',
    },
    components: {
      securitySchemes: {
        sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS Signature Version 4 (API Gateway IAM authorization)' },
        jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "a JWT from the deployment's issuer (readAuth=jwt)" },
      },
    },
    paths,
  };
}
