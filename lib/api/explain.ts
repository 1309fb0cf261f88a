/**
 * The explain endpoint, shared by the explain function (POST /v2/models/{m}/explain) and the
 * predict function (KServe's v1 `:explain`, which API Gateway sends with every POST under
 * /v1/models/). The predict function imports it on first use, so explain code stays off its cold start.
 */
import { PayloadTooLargeError } from '../errors.js';
import type { Reply } from '../http/router.js';
import type { ExplainRequest } from '../ops/explain/request.js';
import { explain } from '../ops/explain/service.js';
import type { ModelRef } from '../registry/index.js';
import type { TimeLimit } from '../runtime/timeLimit.js';
import type { Services } from '../services.js';

/** `remainingMs`: the time the function has left (an explanation that cannot end before its timeout is a 413). */
export async function answerExplain(services: Services, ref: ModelRef, body: ExplainRequest, format: 'json' | 'png' | undefined, remainingMs?: () => number): Promise<Reply> {
  const { explainMaxInstances } = services.config;
  if (body.instances.length > explainMaxInstances) {
    throw new PayloadTooLargeError(`${body.instances.length} instances; explain takes at most ${explainMaxInstances} per request (EXPLAIN_MAX_INSTANCES)`);
  }
  const time: TimeLimit | undefined = remainingMs ? { remainingMs } : undefined;
  return services.loader.withModel(ref, async (loaded) => ({ body: await explain(loaded, { ...body, format: format ?? body.format }, { ...services.limits, time }) }));
}
