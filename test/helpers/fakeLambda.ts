/**
 * A real HTTP endpoint playing Lambda's Invoke API (LAMBDA_ENDPOINT) for the job tests: each invoke
 * it gets is answered as `answer` says, after running what it runs (the real job worker handler,
 * say), so a test can make an invoke fail outright, fail after the worker ran, or be accepted.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeLambda {
  endpoint: string;
  /** How many invokes it has received. */
  invokes(): number;
  close(): Promise<void>;
}

/** What an invoke is answered: 202 (accepted) or an error status, which it sends as Lambda's ServiceException. */
export async function startFakeLambda(answer: (payload: { jobId?: string }) => Promise<number>): Promise<FakeLambda> {
  let invokes = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      invokes += 1;
      const status = await answer(JSON.parse(Buffer.concat(chunks).toString()));
      if (status < 300) {
        response.writeHead(status);
        response.end();
        return;
      }
      response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': 'ServiceException' });
      response.end(JSON.stringify({ message: 'the invoke failed' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    invokes: () => invokes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
