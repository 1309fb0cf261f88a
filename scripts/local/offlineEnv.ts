/**
 * The environment `serverless offline` runs in, for npm start and the tests that start it.
 *
 * serverless-offline runs an asynchronous invocation (InvocationType Event: S3 uploads -> batchScore
 * and modelImport, jobs -> jobWorker) without awaiting it: its Lambda API answers 202 and drops the
 * handler's promise (InvocationsController, `lambdaFunction.runHandler()`). A handler that throws,
 * as those three do on a transient failure so that Lambda retries the event, is then an unhandled
 * rejection, and Node ends the whole process on one: the HTTP API, and with it npm start's local S3,
 * were gone after one failed upload. In AWS the invocation fails and the function stays up. With
 * --unhandled-rejections=warn it does here too: serverless-offline logs "Unhandled exception in
 * handler '<function>'" and the error, Node adds a warning, and the server keeps serving.
 */
const KEEP_SERVING = '--unhandled-rejections=warn';

/**
 * serverless offline runs every function as a worker thread of its own process, and V8's flags are
 * the process's: serverless.yml's NODE_OPTIONS (--expose-gc) reaches a function's environment, not
 * its thread, which then had no gc(). The memory budget collects a request's garbage before it
 * refuses one (runtime/footprint.ts), and without gc() a 256 MB function counted the garbage of its
 * earlier requests as held until it refused even one row, until serverless offline ended the idle
 * thread a minute later (V8 collects fully only near its own heap limit, 4 GB).
 */
const COLLECTS = '--expose-gc';

export function offlineEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  let options = env.NODE_OPTIONS ?? '';
  // A mode the caller chose (e.g. strict, to debug one) is theirs to keep.
  if (!options.includes('--unhandled-rejections')) options = `${options} ${KEEP_SERVING}`;
  if (!options.split(/\s+/).includes(COLLECTS)) options = `${options} ${COLLECTS}`;
  return { ...env, NODE_OPTIONS: options.trim() };
}
