/** Health, model list, metadata and readiness (OIP v2 and TF Serving v1), and the OpenAPI document. */
import { httpHandler } from '../lib/http/handler.js';
import { modelRefFrom, versionedPaths } from '../lib/http/modelRef.js';
import type { Route } from '../lib/http/router.js';
import { modelLoader } from '../lib/loader/index.js';
import { listModelSummaries, oipModelMetadata, tfServingMetadata, tfServingStatus } from '../lib/ops/metadata.js';
import { readJob } from '../lib/jobs/index.js';
import { listVersions } from '../lib/registry/index.js';
import { backendName, initBackend } from '../lib/runtime/backend.js';
import { openApiDocument } from '../lib/protocol/openapi.js';

const get = (path: string, handle: Route['handle']): Route => ({ method: 'GET', path, handle });

const routes: Route[] = [
  get('/v2/health/live', async () => ({ body: { live: true } })),
  // Ready once the TF.js backend runs: models load on demand (or at init with MODEL_PRELOAD).
  get('/v2/health/ready', async () => {
    await initBackend();
    return { body: { ready: true, backend: backendName() } };
  }),
  get('/v2/models', async () => ({ body: await listModelSummaries(modelLoader()) })),
  ...versionedPaths('/v2/models/{model}', '').map((path) =>
    get(path, async (request) => {
      const loader = modelLoader();
      return loader.withModel(modelRefFrom(request.params, request.query), async (loaded) => ({ body: await oipModelMetadata(loader, loaded) }));
    }),
  ),
  ...versionedPaths('/v2/models/{model}', '/ready').map((path) =>
    get(path, async (request) =>
      modelLoader().withModel(modelRefFrom(request.params, request.query), (loaded) => ({
        body: { name: loaded.name, version: String(loaded.version), ready: true },
      })),
    ),
  ),
  ...versionedPaths('/v1/models/{model}', '', { labels: true }).map((path) =>
    get(path, async (request) => {
      const ref = modelRefFrom(request.params);
      const loader = modelLoader();
      // The bare model lists every committed version, as TF Serving does; a version or label names one.
      if (ref.version === undefined && ref.alias === undefined) {
        await loader.resolve(ref); // 404 for an unknown model
        return { body: tfServingStatus(await listVersions(loader.store, ref.name)) };
      }
      const versions = [await loader.withModel(ref, (loaded) => loaded.version)];
      return { body: tfServingStatus(versions) };
    }),
  ),
  ...versionedPaths('/v1/models/{model}', '/metadata', { labels: true }).map((path) =>
    get(path, async (request) => modelLoader().withModel(modelRefFrom(request.params), (loaded) => ({ body: tfServingMetadata(loaded.manifest) }))),
  ),
  get('/v2/jobs/{id}', async (request) => ({ body: await readJob(modelLoader().store, request.params.id) })),
  get('/openapi.json', async () => ({ body: openApiDocument() })),
];

export const handler = httpHandler(routes);
