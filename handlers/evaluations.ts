/**
 * POST /v2/models/{m}[/versions/{v}]/evaluations: an evaluation that writes. `save: true` keeps
 * the result under the version (once per Idempotency-Key); `?async=true` answers 202 with a job
 * (poll GET /v2/jobs/{id}) and the job worker evaluates. serverless.yml puts these routes behind IAM authorization.
 */
import { lambdaHandler, type Implementations } from '../lib/api/bind.js';
import { evaluationsRoutes } from '../lib/api/routes/evaluate.js';
import { modelRefFrom } from '../lib/api/modelRef.js';
import { BadRequestError } from '../lib/errors.js';
import { acceptedReply, earlierJob, idempotencyKeyOf, logJobFailure, submitJob } from '../lib/jobs/index.js';
import { formatModelRef } from '../lib/registry/index.js';
import { evaluateJob } from '../lib/ops/evaluate/executor.js';
import { checkDatasetFound } from '../lib/ops/evaluate/dataset.js';
import { htmlReport } from '../lib/ops/evaluate/htmlReport.js';
import { precheckEvaluation } from '../lib/ops/evaluate/precheck.js';
import { runEvaluation } from '../lib/ops/evaluate/service.js';
import { checkKeyMode, earlierSave, saveKeyed } from '../lib/ops/evaluate/keyedSave.js';
import type { Evaluation } from '../lib/ops/evaluate/evaluate.js';
import { jobEnvironment } from '../lib/services.js';

export const routes: Implementations<typeof evaluationsRoutes> = {
  createEvaluation: async ({ request, params, query, body, services, time }) => {
    const ref = modelRefFrom(params, query);
    const { loader, store } = services;
    const key = idempotencyKeyOf(request.headers);
    if (query.async === 'true') {
      // A job's result is kept as JSON (GET /v2/jobs/{id}): an HTML report asked of one would be dropped unsaid.
      if (query.report === 'html') {
        throw new BadRequestError(
          'report: report=html is the answer of an evaluation run now: a job (async=true) keeps its result as JSON at GET /v2/jobs/{id}; ask without async for the HTML',
        );
      }
      const submission = key === undefined ? undefined : { kind: 'evaluate' as const, model: formatModelRef(ref), key };
      // A retry of a submission whose job needs nothing more answers it as it is, before any model load or check.
      if (submission) await checkKeyMode(store, submission, true);
      const earlier = submission && (await earlierJob(store, submission, body));
      if (earlier) return acceptedReply(earlier);
      // 404 (the model's or the data set's), options of another task and bad inline labels or instances now, not in the job.
      const version = await loader.withModel(
        ref,
        async (loaded) => {
          await checkDatasetFound(store, body);
          await precheckEvaluation(loaded, body, { ...services.limits, worker: services.workerBudget });
          return loaded.version;
        },
        time,
      );
      const job = await submitJob(
        jobEnvironment(services),
        'evaluate',
        { name: ref.name, version },
        body,
        { evaluate: evaluateJob },
        (error, j, warning) => logJobFailure('evaluate job', error, { jobId: j.id }, warning),
        submission,
      );
      return acceptedReply(job);
    }
    const answer = (evaluation: Evaluation) => (query.report === 'html' ? { contentType: 'text/html; charset=utf-8', body: htmlReport(evaluation) } : { body: evaluation });
    if (key === undefined || !body.save) return answer(await loader.withModel(ref, (loaded) => runEvaluation(store, loaded, body, services.limits), time));
    // Saved now under a key: a send again after a lost answer answers what the first saved.
    const saveKey = { model: formatModelRef(ref), key };
    await checkKeyMode(store, saveKey, false);
    const earlier = await earlierSave(store, ref.name, saveKey, body);
    if (earlier.saved) return answer(earlier.saved);
    const run = earlier.version === undefined ? ref : { name: ref.name, version: earlier.version };
    const evaluation = await loader.withModel(run, (loaded) => runEvaluation(store, loaded, { ...body, save: false }, services.limits), time);
    return answer(await saveKeyed(store, evaluation, saveKey, body));
  },
};

export const handler = lambdaHandler(evaluationsRoutes, routes);
