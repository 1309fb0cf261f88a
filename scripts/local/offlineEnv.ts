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

export function offlineEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const options = env.NODE_OPTIONS ?? '';
  // A mode the caller chose (e.g. strict, to debug one) is theirs to keep.
  return { ...env, NODE_OPTIONS: options.includes('--unhandled-rejections') ? options : `${options} ${KEEP_SERVING}`.trim() };
}
