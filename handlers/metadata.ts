/** Server and model metadata, health and readiness (OIP v2 and TF Serving v1), jobs, and the OpenAPI document. */
import { lambdaHandler, type Implementations } from '../lib/api/bind.js';
import { metadataRoutes } from '../lib/api/routes/metadata.js';
import { modelRefFrom } from '../lib/api/modelRef.js';
import { serverMetadata } from '../lib/api/server.js';
import { IntegrityError, storeUnavailable } from '../lib/errors.js';
import { readJob } from '../lib/jobs/records.js';
import { listModelSummaries, oipModelMetadata, tfServingMetadata, tfServingStatus, type VersionState } from '../lib/ops/metadata.js';
import { DamagedAliasError, listVersions } from '../lib/registry/index.js';
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
  tfServingStatus: async ({ params, services, time }) => {
    const ref = modelRefFrom(params);
    const { loader } = services;
    // The version the reference serves is loaded, as TF Serving's are: one that exists but cannot be
    // served is reported (END, with why), not a 500 of the status call. A damaged alias names no version.
    const served = await loader
      .withModel(ref, (loaded): VersionState => ({ version: loaded.version }), time)
      .catch(async (error: unknown): Promise<VersionState> => {
        if (!(error instanceof IntegrityError) || error instanceof DamagedAliasError) throw error;
        return { version: await loader.resolve(ref), refused: error };
      });
    if (ref.version !== undefined || ref.alias !== undefined) return { body: tfServingStatus([served]) };
    // The bare model lists every committed version, as TF Serving lists those it has: the others load
    // on demand, except those this function already found it cannot serve.
    const versions = await listVersions(services.store, ref.name).catch(storeUnavailable);
    return { body: tfServingStatus(versions.map((version) => (version === served.version ? served : { version, refused: loader.refusalOf(ref.name, version) }))) };
  },
  tfServingMetadata: async ({ params, services, time }) => services.loader.withModel(modelRefFrom(params), (loaded) => ({ body: tfServingMetadata(loaded.manifest) }), time),
  job: async ({ params, services }) => ({ body: await readJob(services.store, params.id).catch(storeUnavailable) }),
  // Built on first use: it loads every operation's schemas.
  openapi: async () => ({ body: await (await import('../lib/api/openapi.js')).openApiDocument() }),
};

export const handler = lambdaHandler(metadataRoutes, routes);
