/**
 * POST /v2/models/{m}[/versions/{v}]/evaluate: metrics over inline labelled instances or a data
 * set in the store. `?async=true` answers 202 with a job (poll GET /v2/jobs/{id});
 * `?report=html` answers a self-contained HTML report.
 */
import { config } from '../lib/config.js';
import { jsonBody } from '../lib/http/body.js';
import { httpHandler } from '../lib/http/handler.js';
import { modelRefFrom, versionedPaths } from '../lib/http/modelRef.js';
import { logger } from '../lib/http/observability.js';
import type { Route } from '../lib/http/router.js';
import { acceptedReply, submitJob } from '../lib/jobs/index.js';
import { modelLoader } from '../lib/loader/index.js';
import { jobExecutors } from '../lib/ops/executors.js';
import { htmlReport } from '../lib/ops/evaluate/htmlReport.js';
import { checkEvaluateRequest, evaluateRequest } from '../lib/ops/evaluate/request.js';
import { runEvaluation } from '../lib/ops/evaluate/service.js';

const evaluate: Route[] = versionedPaths('/v2/models/{model}', '/evaluate').map((path) => ({
  method: 'POST',
  path,
  async handle(request) {
    const ref = modelRefFrom(request.params, request.query);
    const body = checkEvaluateRequest(jsonBody(request, evaluateRequest));
    const loader = modelLoader();
    if (request.query.async === 'true') {
      const version = await loader.withModel(ref, (loaded) => loaded.version); // 404 now, not in the job
      const job = await submitJob(loader.store, 'evaluate', { name: ref.name, version }, body, jobExecutors, (error, j) =>
        logger.error('evaluate job failed', { jobId: j.id, error: error as Error }),
      );
      return acceptedReply(job);
    }
    const evaluation = await loader.withModel(ref, (loaded) => runEvaluation(loader.store, loaded, body, config().maxBatch));
    if (request.query.report === 'html') return { contentType: 'text/html; charset=utf-8', body: htmlReport(evaluation) };
    return { body: evaluation };
  },
}));

export const handler = httpHandler(evaluate);
