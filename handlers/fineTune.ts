/**
 * POST /v2/models/{m}[/versions/{v}]/fine-tune: accepted as a job (202), trained by the job worker
 * into a new version. PUT /v2/models/{m}/aliases/{alias} and POST .../rollback move aliases, DELETE removes one.
 * These routes change what is served: serverless.yml puts them behind IAM authorization.
 */
import { lambdaHandler, type Implementations } from '../lib/api/bind.js';
import { fineTuneRoutes } from '../lib/api/routes/fineTune.js';
import { modelRefFrom } from '../lib/api/modelRef.js';
import { acceptedReply, earlierJob, idempotencyKeyOf, logJobFailure, submitJob } from '../lib/jobs/index.js';
import { fineTuneJob } from '../lib/ops/fineTune/executor.js';
import { checkDatasetFound } from '../lib/ops/evaluate/dataset.js';
import { precheckFineTune } from '../lib/ops/fineTune/precheck.js';
import { checkAliasSettable, deleteAlias, formatModelRef, rollbackAlias, setAlias, validateName } from '../lib/registry/index.js';
import { jobEnvironment } from '../lib/services.js';

export const routes: Implementations<typeof fineTuneRoutes> = {
  fineTune: async ({ request, params, query, body, services, time }) => {
    const ref = modelRefFrom(params, query);
    const key = idempotencyKeyOf(request.headers);
    const submission = key === undefined ? undefined : { kind: 'fine-tune' as const, model: formatModelRef(ref), key };
    // A retry of a submission whose job needs nothing more answers it as it is, before any model load or check.
    const earlier = submission && (await earlierJob(services.store, submission, body));
    if (earlier) return acceptedReply(earlier);
    // Timed as predict is: running the model on inline rows that cannot end before the timeout is a 413.
    const limits = { ...services.limits, time };
    const version = await services.loader.withModel(
      ref,
      async (loaded) => {
        await checkDatasetFound(services.store, body);
        if (!('split' in body.validation)) await checkDatasetFound(services.store, body.validation, 'validation.dataset');
        await precheckFineTune(loaded, body, services.workerBudget, limits, services.store);
        // The alias the job would promote to must be one it can set: a new one that is a number is a 400 now, not after training.
        if (body.promote) await checkAliasSettable(services.store, ref.name, body.promote.alias);
        return loaded.version;
      },
      time,
    );
    const job = await submitJob(
      jobEnvironment(services),
      'fine-tune',
      { name: ref.name, version },
      body,
      { 'fine-tune': fineTuneJob },
      (error, j, warning) => logJobFailure('fine-tune job', error, { jobId: j.id }, warning),
      submission,
    );
    return acceptedReply(job);
  },

  setAlias: async ({ params, body, services }) => {
    const model = validateName(params.model);
    const record = await setAlias(services.store, model, params.alias, body.version);
    services.loader.aliasMoved(model);
    return { body: { model, alias: params.alias, ...record } };
  },

  rollbackAlias: async ({ params, query, services }) => {
    const model = validateName(params.model);
    const record = await rollbackAlias(services.store, model, params.alias, { from: query.from });
    services.loader.aliasMoved(model);
    return { body: { model, alias: params.alias, ...record } };
  },

  deleteAlias: async ({ params, query, services }) => {
    const model = validateName(params.model);
    const record = await deleteAlias(services.store, model, params.alias, { from: query.from });
    services.loader.aliasMoved(model);
    return { body: { model, alias: params.alias, deleted: true as const, ...record } };
  },
};

export const handler = lambdaHandler(fineTuneRoutes, routes);
