/** The metadata function's routes: health, server and model metadata (OIP v2, TF Serving), jobs, the OpenAPI document. */
import { versioned, type RouteSpec } from '../route.js';
import { aliasQuery } from './query.js';

export const metadataRoutes = {
  serverMetadata: {
    fn: 'metadata',
    method: 'GET',
    paths: ['/v2'],
    auth: 'read',
    summary: 'server metadata (OIP v2): name, version, extensions',
    responses: { '200': { description: 'server metadata' } },
  },
  live: { fn: 'metadata', method: 'GET', paths: ['/v2/health/live'], auth: 'read', summary: 'liveness', responses: { '200': { description: 'alive' } } },
  ready: {
    fn: 'metadata',
    method: 'GET',
    paths: ['/v2/health/ready'],
    auth: 'read',
    summary: 'readiness (TF.js backend started)',
    responses: { '200': { description: 'ready, and which backend' } },
  },
  listModels: {
    fn: 'metadata',
    method: 'GET',
    paths: ['/v2/models'],
    auth: 'read',
    summary: 'every model with versions and aliases',
    responses: { '200': { description: 'models' } },
  },
  modelMetadata: {
    fn: 'metadata',
    method: 'GET',
    paths: versioned('/v2/models/{model}', ''),
    query: aliasQuery,
    auth: 'read',
    summary: 'model metadata (OIP v2, plus task, labels, natural inputs, metrics, layers)',
    responses: { '200': { description: 'model metadata' } },
  },
  modelReady: {
    fn: 'metadata',
    method: 'GET',
    paths: versioned('/v2/models/{model}', '/ready'),
    query: aliasQuery,
    auth: 'read',
    summary: 'model readiness (loads it)',
    responses: { '200': { description: 'ready' } },
  },
  tfServingStatus: {
    fn: 'metadata',
    method: 'GET',
    paths: versioned('/v1/models/{model}', '', { labels: true }),
    auth: 'read',
    summary: 'TF Serving model status',
    responses: { '200': { description: 'version status' } },
  },
  tfServingMetadata: {
    fn: 'metadata',
    method: 'GET',
    paths: versioned('/v1/models/{model}', '/metadata', { labels: true }),
    auth: 'read',
    summary: 'TF Serving signature metadata',
    responses: { '200': { description: 'SignatureDef map' } },
  },
  job: {
    fn: 'metadata',
    method: 'GET',
    paths: ['/v2/jobs/{id}'],
    auth: 'read',
    summary: 'a job: status, progress, result or error',
    responses: { '200': { description: 'the job record' } },
  },
  openapi: { fn: 'metadata', method: 'GET', paths: ['/openapi.json'], auth: 'read', summary: 'this document', responses: { '200': { description: 'OpenAPI 3.1' } } },
} as const satisfies Record<string, RouteSpec>;
