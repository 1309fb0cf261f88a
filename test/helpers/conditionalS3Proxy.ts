/**
 * An HTTP proxy in front of s3rver that adds AWS S3's conditional requests: create-only PUTs
 * (`If-None-Match: *` answers 412 PreconditionFailed when the key exists), replace-only PUTs and
 * conditional DELETEs (`If-Match: <etag>` answers 412 when the object's ETag differs, 404 NoSuchKey when it is gone)
 * and pinned GETs (`If-Match: <etag>` answers 412 when the object's ETag differs). s3rver ignores both headers, and real S3 cannot be reached from the test machine: this stands in for AWS so the
 * store contract can assert the same behaviour on S3Store as on FolderStore.
 *
 * Writes of the same key are serialized, and reads wait for them (test/helpers/keyLocks.ts), so of
 * two concurrent conditional PUTs on one state exactly one wins, and no read sees half a write, as on S3. `throttle(pattern)` makes requests whose path matches answer as S3 does when it sheds
 * load (503 SlowDown), to test what a store blip does; `fail(pattern, fault)` answers them with
 * another S3 error (403 AccessDenied, 404 NoSuchBucket) or, for `'html'`, with the 200 HTML page a
 * captive proxy or gateway sends; `hold(rule)` handles a request only once the promise the rule
 * gives for it settles, so a test can order two clients' writes. Everything else is streamed through untouched (the Host header included: the client's
 * SigV4 signature covers it and s3rver checks it).
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { keyLocks } from './keyLocks.js';

/**
 * An S3 error answer; `'html'`: 200 with an HTML page, as a proxy in the way may answer; `'reset'`:
 * the connection dropped before the request reaches the store; `'lost'`: the request is handled (a
 * write lands) and the connection dropped before its answer, as when a network path fails mid-call;
 * `'answer-lost'`: the same for every answer, the proxy's own too (a create-only retry's 412), as
 * when every reply is cut off.
 */
type S3Fault = { status: number; code: string; message?: string } | 'html' | 'reset' | 'lost' | 'answer-lost' | BodyFault;
/**
 * Faults of a read's answer, the request handled by s3rver: `'stall'`: no answer at all, the
 * connection left open; `'stall-body'`: the headers and half the body, then silence; `'truncate'`:
 * the headers (the whole body's length) and half the body, then the connection dropped.
 */
type BodyFault = 'stall' | 'stall-body' | 'truncate';
/** Whether a request fails: true for the fault `fail` was given, or a fault of its own. */
type Rule = (request: { method: string; path: string; query: URLSearchParams }) => boolean | S3Fault;

export interface ConditionalS3Proxy {
  endpoint: string;
  /**
   * From now on, requests whose path matches answer 503 SlowDown (undefined: none). A function
   * sees every request (method and decoded path) in order and answers whether to refuse it.
   */
  throttle(rule: RegExp | ((request: { method: string; path: string }) => boolean) | undefined): void;
  /**
   * From now on, requests whose path matches (or that the function picks: it sees every request in
   * order, its query too) answer with this fault (undefined: none).
   */
  fail(pattern: RegExp | Rule | undefined, fault?: S3Fault): void;
  /**
   * Multipart uploads created through the proxy and neither completed nor aborted: what a store
   * left behind. s3rver does not know AbortMultipartUpload: the proxy answers it (204) itself.
   */
  openUploads(): string[];
  /**
   * From now on, a request the function gives a promise for is handled once that promise settles
   * (undefined: none): a test puts two clients' writes in the order it needs.
   */
  hold(rule: ((request: { method: string; path: string }) => Promise<void> | undefined) | undefined): void;
  stop(): Promise<void>;
}

// Per-connection headers: they describe the hop, not the message, so they are not forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'expect', 'te', 'trailer']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

function preconditionFailed(res: ServerResponse, resource: string, condition: 'If-None-Match' | 'If-Match'): void {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<Error><Code>PreconditionFailed</Code>' +
    '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
    `<Condition>${condition}</Condition><Resource>${resource}</Resource>` +
    `<RequestId>${randomUUID()}</RequestId></Error>`;
  res.writeHead(412, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function noSuchKey(res: ServerResponse, resource: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${resource}</Key><RequestId>${randomUUID()}</RequestId></Error>`;
  res.writeHead(404, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const SLOW_DOWN: S3Fault = { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };

function answerFault(res: ServerResponse, resource: string, fault: Exclude<S3Fault, 'reset' | 'lost' | 'answer-lost' | BodyFault>): void {
  if (fault === 'html') {
    const page = '<html><body>Gateway says hello</body></html>';
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) });
    res.end(page);
    return;
  }
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${fault.message ?? 'injected by the test proxy'}</Message><Resource>${resource}</Resource><RequestId>${randomUUID()}</RequestId></Error>`;
  res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface ProxyOptions {
  /**
   * Answer UploadPartCopy (a part copied from another object's byte range), which s3rver refuses
   * (NotImplemented), as S3 does: the range is read and uploaded as the part. Off: stores fall back
   * to streaming joins through themselves, as on s3rver.
   */
  uploadPartCopy?: boolean;
}

export async function startConditionalS3Proxy(upstreamEndpoint: string, options: ProxyOptions = {}): Promise<ConditionalS3Proxy> {
  const upstream = new URL(upstreamEndpoint);
  const agent = new http.Agent({ keepAlive: true });
  const locks = keyLocks();

  /** Streams req to s3rver and the answer back; resolves once the answer is fully sent. */
  function forward(req: IncomingMessage, res: ServerResponse, cut?: BodyFault): Promise<void> {
    return new Promise((resolve) => {
      const out = http.request(
        {
          agent,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: endToEnd(req.headers),
        },
        (answer) => {
          if (cut) {
            answer.toArray().then((chunks) => {
              const body = Buffer.concat(chunks as Buffer[]);
              res.writeHead(answer.statusCode ?? 502, answer.statusMessage, { ...endToEnd(answer.headers), 'content-length': String(body.length) });
              res.write(body.subarray(0, Math.floor(body.length / 2)));
              if (cut === 'truncate') setTimeout(() => res.socket?.destroy(), 50);
            });
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
          answer.pipe(res);
          answer.on('error', () => res.destroy());
        },
      );
      res.on('close', () => resolve());
      out.on('error', (error) => {
        if (res.headersSent) res.destroy(error);
        else res.writeHead(502, { 'content-type': 'text/plain' }).end(String(error));
      });
      req.pipe(out);
    });
  }

  /** The object's ETag, undefined when there is none. */
  function etagOf(pathname: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      // Anonymous HEAD: s3rver accepts unsigned requests.
      const head = http.request({ agent, hostname: upstream.hostname, port: upstream.port, method: 'HEAD', path: pathname });
      head.on('response', (answer) => {
        answer.resume();
        resolve(answer.statusCode === 200 ? String(answer.headers.etag) : undefined);
      });
      head.on('error', reject);
      head.end();
    });
  }

  async function conditionalWrite(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://proxy').pathname;
    const ifMatch = req.headers['if-match'];
    await locks.exclusive(pathname, async () => {
      const etag = await etagOf(pathname);
      const refused = ifMatch === undefined ? (etag !== undefined ? 'If-None-Match' : undefined) : etag === undefined ? 'missing' : etag !== ifMatch ? 'If-Match' : undefined;
      if (refused === undefined) return forward(req, res);
      req.resume(); // discard the body we will not store
      if (refused === 'missing') noSuchKey(res, pathname);
      else preconditionFailed(res, pathname, refused);
    });
  }

  /** Any other request: a write of an object (not a part of one) alone on its key, a read beside other reads. */
  function untorn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const upload = url.searchParams.has('uploadId');
    const write = (req.method === 'PUT' && !upload) || (req.method === 'POST' && upload) || req.method === 'DELETE';
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (write) return locks.exclusive(url.pathname, () => forward(req, res));
    if (read) return locks.shared(url.pathname, () => forward(req, res));
    return forward(req, res);
  }

  async function pinnedGet(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://proxy').pathname;
    const etag = await etagOf(pathname);
    if (etag !== undefined && etag !== req.headers['if-match']) return preconditionFailed(res, pathname, 'If-Match');
    await forward(req, res);
  }

  let failing: { rule: Rule; fault: S3Fault } | undefined;
  let holding: ((request: { method: string; path: string }) => Promise<void> | undefined) | undefined;
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://proxy').pathname);
    const held = holding?.({ method: req.method ?? 'GET', path: pathname });
    if (held) held.then(() => handle(req, res, pathname));
    else handle(req, res, pathname);
  });
  /** An anonymous request to s3rver (it takes unsigned ones), its answer's status and body. */
  function upstreamCall(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = http.request({ agent, hostname: upstream.hostname, port: upstream.port, method, path, headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 502, body: Buffer.concat(chunks) }));
        answer.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });
  }

  /** UploadPartCopy: the source's range read, then uploaded as the part; answered with CopyPartResult. */
  async function copyPart(req: IncomingMessage, res: ServerResponse, lost: boolean): Promise<void> {
    req.resume();
    const source = decodeURIComponent(String(req.headers['x-amz-copy-source'])).replace(/^\/?/, '/');
    const range = req.headers['x-amz-copy-source-range'];
    const read = await upstreamCall('GET', source.split('/').map(encodeURIComponent).join('/'), range ? { range: String(range) } : {});
    if (read.status !== 200 && read.status !== 206) {
      res.writeHead(read.status, { 'content-type': 'application/xml' }).end(read.body);
      return;
    }
    const part = await upstreamCall('PUT', req.url ?? '/', { 'content-length': String(read.body.length) }, read.body);
    if (part.status !== 200) {
      res.writeHead(part.status, { 'content-type': 'application/xml' }).end(part.body);
      return;
    }
    if (lost) {
      req.socket.destroy();
      return;
    }
    const etag = `"${createHash('md5').update(read.body).digest('hex')}"`;
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult><ETag>${etag}</ETag><LastModified>${new Date().toISOString()}</LastModified></CopyPartResult>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body);
  }

  /** Upload id -> its state, from the requests and CreateMultipartUpload's answers seen. */
  const uploads = new Map<string, 'open' | 'completed' | 'aborted'>();
  function trackUploads(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): boolean {
    const uploadId = query.get('uploadId');
    if (req.method === 'DELETE' && uploadId) {
      req.resume();
      uploads.set(uploadId, 'aborted');
      res.writeHead(204).end();
      return true;
    }
    if (req.method === 'POST' && uploadId) res.on('finish', () => res.statusCode === 200 && uploads.set(uploadId, 'completed'));
    if (req.method === 'POST' && query.has('uploads')) {
      const chunks: Buffer[] = [];
      const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        chunks.push(Buffer.from(chunk as Buffer));
        return write(chunk, ...rest);
      }) as typeof res.write;
      res.on('finish', () => {
        const id = /<UploadId>([^<]+)<\/UploadId>/.exec(Buffer.concat(chunks).toString())?.[1];
        if (id && !uploads.has(id)) uploads.set(id, 'open');
      });
    }
    return false;
  }
  function handle(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    const query = new URL(req.url ?? '/', 'http://proxy').searchParams;
    const picked = failing?.rule({ method: req.method ?? 'GET', path: pathname, query });
    const fault = picked === true ? failing?.fault : picked || undefined;
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'stall') return; // the connection stays open, never answered
    if (fault === 'stall-body' || fault === 'truncate') {
      forward(req, res, fault);
      return;
    }
    if (fault === 'lost')
      res.on('pipe', () => req.socket.destroy()); // handled upstream, the answer dropped
    else if (fault === 'answer-lost') {
      // Handled, and whatever answer comes dropped: upstream's, or the proxy's own (a retry's 412).
      res.writeHead = () => {
        req.socket.destroy();
        return res;
      };
    } else if (fault) {
      req.resume();
      answerFault(res, pathname, fault);
      return;
    }
    if (trackUploads(req, res, query)) return;
    if (options.uploadPartCopy && req.method === 'PUT' && query.has('uploadId') && req.headers['x-amz-copy-source'] !== undefined) {
      copyPart(req, res, fault === 'lost').catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
      return;
    }
    const conditional =
      (req.method === 'PUT' && (req.headers['if-none-match'] === '*' || req.headers['if-match'] !== undefined)) ||
      (req.method === 'DELETE' && !query.has('uploadId') && req.headers['if-match'] !== undefined);
    const pinned = req.method === 'GET' && req.headers['if-match'] !== undefined;
    const done = conditional ? conditionalWrite(req, res) : pinned ? locks.shared(pathname, () => pinnedGet(req, res)) : untorn(req, res);
    done.catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    throttle(rule) {
      failing = rule && { rule: rule instanceof RegExp ? ({ path }) => rule.test(path) : rule, fault: SLOW_DOWN };
    },
    fail(pattern, fault = SLOW_DOWN) {
      failing = pattern && { rule: pattern instanceof RegExp ? ({ path }) => pattern.test(path) : pattern, fault };
    },
    openUploads() {
      return [...uploads].filter(([, state]) => state === 'open').map(([id]) => id);
    },
    hold(rule) {
      holding = rule;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      agent.destroy();
    },
  };
}
