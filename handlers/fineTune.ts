/**
 * POST /v2/models/{m}[/versions/{v}]/fine-tune: accepted as a job (202), trained by the job worker
 * into a new version. PUT /v2/models/{m}/aliases/{alias} and POST .../rollback move aliases.
 * These routes change what is served: serverless.yml puts them behind IAM authorization.
 */
import { z } from 'zod';
import { jsonBody } from '../lib/http/body.js';
import { httpHandler } from '../lib/http/handler.js';
import { modelRefFrom, versionedPaths } from '../lib/http/modelRef.js';
import { logger } from '../lib/http/observability.js';
import type { Route } from '../lib/http/router.js';
import { acceptedReply, submitJob } from '../lib/jobs/index.js';
import { modelLoader } from '../lib/loader/index.js';
import { jobExecutors } from '../lib/ops/executors.js';
import { precheckFineTune } from '../lib/ops/fineTune/precheck.js';
import { checkFineTuneRequest, fineTuneRequest } from '../lib/ops/fineTune/request.js';
import { rollbackAlias, setAlias, validateName } from '../lib/registry/index.js';

const fineTune: Route[] = versionedPaths('/v2/models/{model}', '/fine-tune').map((path) => ({
  method: 'POST',
  path,
  async handle(request) {
    const ref = modelRefFrom(request.params, request.query);
    const body = checkFineTuneRequest(jsonBody(request, fineTuneRequest));
    const loader = modelLoader();
    const version = await loader.withModel(ref, (loaded) => {
      precheckFineTune(loaded, body);
      return loaded.version;
    });
    if (body.promote) validateName(body.promote.alias, 'alias');
    const job = await submitJob(loader.store, 'fine-tune', { name: ref.name, version }, body, jobExecutors, (error, j) =>
      logger.error('fine-tune job failed', { jobId: j.id, error: error as Error }),
    );
    return acceptedReply(job);
  },
}));

const aliasBody = z.object({ version: z.number().int().positive() }).strict();

const aliases: Route[] = [
  {
    method: 'PUT',
    path: '/v2/models/{model}/aliases/{alias}',
    async handle(request) {
      const { version } = jsonBody(request, aliasBody);
      const store = modelLoader().store;
      const record = await setAlias(store, validateName(request.params.model), request.params.alias, version);
      modelLoader().aliases.clear(); // this warm instance sees the move at once; others within the TTL
      return { body: { model: request.params.model, alias: request.params.alias, ...record } };
    },
  },
  {
    method: 'POST',
    path: '/v2/models/{model}/aliases/{alias}/rollback',
    async handle(request) {
      const record = await rollbackAlias(modelLoader().store, validateName(request.params.model), request.params.alias);
      modelLoader().aliases.clear();
      return { body: { model: request.params.model, alias: request.params.alias, ...record } };
    },
  },
];

export const handler = httpHandler([...fineTune, ...aliases]);
