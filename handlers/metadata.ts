/** Server and model metadata, health and readiness (OIP v2 and TF Serving v1), jobs, and the OpenAPI document. */
import { lambdaHandler, type Implementations } from '../lib/api/bind.js';
import { metadataRoutes } from '../lib/api/routes/metadata.js';
import { modelRefFrom } from '../lib/api/modelRef.js';
import { serverMetadata } from '../lib/api/server.js';
import { storeUnavailable } from '../lib/errors.js';
import { readJob } from '../lib/jobs/records.js';
import { listModelSummaries, oipModelMetadata, tfServingMetadata } from '../lib/ops/metadata.js';
import { tfServingStatus, versionStates } from '../lib/ops/modelStatus.js';
import { describeAlias } from '../lib/registry/index.js';
import { backendName, initBackend } from '../lib/runtime/backend.js';

export const routes: Implementations<typeof metadataRoutes> = {
  serverMetadata: async () => ({ body: serverMetadata() }),
  live: async () => ({ body: { live: true } }),
  // Ready once the TF.js backend runs: models load on demand (or at init with MODEL_PRELOAD).
  ready: async () => {
    await initBackend();
    return { body: { ready: true, backend: backendName() } };
  },
  listModels: async ({ services }) => ({ body: await listModelSummaries(services.store).catch(storeUnavailable) }),
  modelMetadata: async ({ params, query, services, time }) =>
    services.loader.withModel(modelRefFrom(params, query), async (loaded) => ({ body: await oipModelMetadata(services.store, loaded) }), time),
  modelReady: async ({ params, query, services, time }) =>
    services.loader.withModel(modelRefFrom(params, query), (loaded) => ({ body: { name: loaded.name, version: String(loaded.version), ready: true } }), time),
  getAlias: async ({ params, services }) => {
    const record = await describeAlias(services.store, params.model, params.alias).catch(storeUnavailable);
    return { body: { model: params.model, alias: params.alias, ...record } };
  },
  tfServingStatus: async ({ params, services, time }) => ({ body: tfServingStatus(await versionStates(services.loader, modelRefFrom(params), time)) }),
  tfServingMetadata: async ({ params, services, time }) => services.loader.withModel(modelRefFrom(params), (loaded) => ({ body: tfServingMetadata(loaded.manifest) }), time),
  job: async ({ params, services }) => ({ body: await readJob(services.store, params.id).catch(storeUnavailable) }),
  // Built on first use: it loads every operation's schemas.
  openapi: async () => ({ body: await (await import('../lib/api/openapi.js')).openApiDocument() }),
};

export const handler = lambdaHandler(metadataRoutes, routes);
