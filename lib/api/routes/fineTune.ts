/** The fineTune function's routes: they change what is served, so they sit behind IAM. */
import { z } from 'zod';
import { versioned, type RouteSpec } from '../route.js';
import { accepted, aliasQuery, deleteAliasQuery, idempotencyHeader, noQuery, rollbackQuery } from './query.js';

const aliasBody = z.object({ version: z.number().int().positive() }).strict().describe('alias move');
const aliasRecord = async () => (await import('../../registry/aliases.js')).aliasResponse;

export const fineTuneRoutes = {
  fineTune: {
    fn: 'fineTune',
    // Inline rows run through the model at submit; a data set is read by the job only.
    untimed: { fewer: 'instances', elsewhere: 'a data set in the model store ("dataset"), which the job reads' },
    method: 'POST',
    paths: versioned('/v2/models/{model}', '/fine-tune'),
    query: aliasQuery,
    body: async () => (await import('../../ops/fineTune/request.js')).fineTuneRequest,
    headers: idempotencyHeader,
    auth: 'write',
    summary: 'train a new version from this one; answers 202 with a job',
    responses: { ...accepted, '403': { description: 'data set (or validation data set) outside the model store' } },
  },
  setAlias: {
    fn: 'fineTune',
    method: 'PUT',
    paths: ['/v2/models/{model}/aliases/{alias}'],
    query: noQuery,
    body: async () => aliasBody,
    auth: 'write',
    summary: 'point an alias at a version',
    responses: {
      '200': { description: 'the alias record, with the versions it pointed to before', schema: aliasRecord },
      '409': { description: 'the version is damaged (a file missing or not matching its sha256), or other moves of the alias kept winning the race to write it; retry' },
    },
  },
  rollbackAlias: {
    fn: 'fineTune',
    method: 'POST',
    paths: ['/v2/models/{model}/aliases/{alias}/rollback'],
    query: rollbackQuery,
    noBody:
      'a rollback moves the alias back to the version it pointed at before (?from=N: only while it points at N); to point it at a given version, PUT /v2/models/{model}/aliases/{alias} with {"version": N}',
    auth: 'write',
    summary: 'move an alias back to its previous version',
    responses: {
      '200': { description: 'the alias record', schema: aliasRecord },
      '409': {
        description:
          'nothing to roll back to, the version gone back to is damaged (its files do not match their sha256: the message names the file), the alias does not point at `from`, or other moves of the alias kept winning the race to write it',
      },
    },
  },
  deleteAlias: {
    fn: 'fineTune',
    method: 'DELETE',
    paths: ['/v2/models/{model}/aliases/{alias}'],
    query: deleteAliasQuery,
    noBody: 'a delete removes the alias (?from=N: only while it points at N); to point it elsewhere, PUT /v2/models/{model}/aliases/{alias} with {"version": N}',
    auth: 'write',
    summary: 'remove an alias (requests naming it then get 404; production only with ?from=, as without it a model serves its highest version)',
    responses: {
      '200': {
        description: 'the alias removed: the version it pointed at (a PUT of it sets the alias again) and its history',
        schema: async () => (await import('../../registry/aliases.js')).deletedAliasResponse,
      },
      '400': {
        description: 'production without `from` (removing it changes what requests naming no version get), `latest`, or a body',
      },
      '409': { description: 'the alias does not point at `from`, or other moves of the alias kept winning the race to write it; nothing was deleted' },
    },
  },
} as const satisfies Record<string, RouteSpec>;
