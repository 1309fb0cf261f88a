/**
 * POST /v2/models/{m}[/versions/{v}]/evaluate: metrics over inline labelled instances or a data
 * set in the store, answered now and kept nowhere (`?report=html`: a self-contained HTML report).
 * A read: this function cannot write the store. Saving the result or running it as a job is
 * POST .../evaluations (handlers/evaluations.ts), behind IAM.
 */
import { lambdaHandler, type Implementations } from '../lib/api/bind.js';
import { evaluateRoutes } from '../lib/api/routes/evaluate.js';
import { modelRefFrom } from '../lib/api/modelRef.js';
import { ForbiddenError } from '../lib/errors.js';
import { htmlReport } from '../lib/ops/evaluate/htmlReport.js';
import { runEvaluation } from '../lib/ops/evaluate/service.js';

export const routes: Implementations<typeof evaluateRoutes> = {
  evaluate: async ({ params, query, body, request, services, time }) => {
    if (body.save || query.async === 'true') {
      const path = request.path.replace(/\/evaluate$/, '/evaluations');
      throw new ForbiddenError(`saving an evaluation or running it as a job writes to the store: send it, signed (IAM), to POST ${path}`);
    }
    const ref = modelRefFrom(params, query);
    // Answered before the function's timeout, or a 413 saying to run it as a job (runtime/timeLimit.ts).
    const limits = { ...services.limits, time };
    const evaluation = await services.loader.withModel(ref, (loaded) => runEvaluation(services.store, loaded, body, limits), time);
    if (query.report === 'html') return { contentType: 'text/html; charset=utf-8', body: htmlReport(evaluation) };
    return { body: evaluation };
  },
};

export const handler = lambdaHandler(evaluateRoutes, routes);
