/**
 * The explain endpoint, shared by the explain function (POST /v2/models/{m}/explain) and the
 * predict function (KServe's v1 `:explain`, which API Gateway sends with every POST under
 * /v1/models/). The predict function imports it on first use, so explain code stays off its cold start.
 */
import { PayloadTooLargeError } from '../errors.js';
import { answerLimitFor } from '../http/handler.js';
import type { HttpRequest } from '../http/request.js';
import type { Reply } from '../http/router.js';
import type { ExplainRequest } from '../ops/explain/request.js';
import { explain } from '../ops/explain/service.js';
import type { ModelRef } from '../registry/index.js';
import type { TimeLimit } from '../runtime/timeLimit.js';
import type { Services } from '../services.js';

/**
 * `request`: its time left (an explanation that cannot end before its function's timeout is a 413)
 * and how its answer is sent (one that cannot fit Lambda's response limit is a 413 before any pass).
 */
export async function answerExplain(
  services: Services,
  ref: ModelRef,
  body: ExplainRequest,
  format: 'json' | 'png' | undefined,
  request: HttpRequest,
  time: TimeLimit | undefined,
): Promise<Reply> {
  const { explainMaxInstances } = services.config;
  if (body.instances.length > explainMaxInstances) {
    throw new PayloadTooLargeError(`${body.instances.length} instances; explain takes at most ${explainMaxInstances} per request (EXPLAIN_MAX_INSTANCES)`);
  }
  const answerLimit = answerLimitFor(request);
  return services.loader.withModel(
    ref,
    async (loaded) => ({ body: await explain(loaded, { ...body, format: format ?? body.format }, { ...services.limits, time }, answerLimit) }),
    time,
  );
}
