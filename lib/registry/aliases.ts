/**
 * Aliases are pointer files `{model}/aliases/{alias}.json`. Each keeps the versions it pointed to
 * before, newest first, so a rollback needs no other record.
 */
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../errors.js';
import { getJson, listAll, type ObjectStore } from '../store/index.js';
import { keys } from './keys.js';
import { validateName, validateWritableAlias } from './names.js';
import { readManifest } from './versions.js';

const HISTORY_LIMIT = 50;

const aliasSchema = z.object({
  version: z.number().int().positive(),
  previous: z.array(z.number().int().positive()).default([]),
  updatedAt: z.string(),
});
export type AliasRecord = z.infer<typeof aliasSchema>;

export async function readAlias(store: ObjectStore, model: string, alias: string): Promise<AliasRecord | undefined> {
  validateName(model);
  validateName(alias, 'alias');
  try {
    return aliasSchema.parse(await getJson(store, keys.alias(model, alias)));
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

export async function listAliases(store: ObjectStore, model: string): Promise<Record<string, number>> {
  validateName(model);
  const prefix = keys.aliasesPrefix(model);
  const out: Record<string, number> = {};
  for await (const object of listAll(store, prefix)) {
    const alias = object.key.slice(prefix.length).replace(/\.json$/, '');
    const record = await readAlias(store, model, alias);
    if (record) out[alias] = record.version;
  }
  return out;
}

async function write(store: ObjectStore, model: string, alias: string, record: AliasRecord): Promise<AliasRecord> {
  await store.put(keys.alias(model, alias), JSON.stringify(record, null, 2), { contentType: 'application/json' });
  return record;
}

/** Points alias at version (which must be committed), remembering where it pointed before. */
export async function setAlias(store: ObjectStore, model: string, alias: string, version: number): Promise<AliasRecord> {
  validateWritableAlias(alias);
  await readManifest(store, model, version); // 404 for a version that does not exist
  const current = await readAlias(store, model, alias);
  if (current?.version === version) return current;
  const previous = current ? [current.version, ...current.previous].slice(0, HISTORY_LIMIT) : [];
  return write(store, model, alias, { version, previous, updatedAt: new Date().toISOString() });
}

/** Moves alias back to the version it pointed to before the last promotion. */
export async function rollbackAlias(store: ObjectStore, model: string, alias: string): Promise<AliasRecord> {
  validateWritableAlias(alias);
  const current = await readAlias(store, model, alias);
  if (!current) throw new NotFoundError(`model ${model} has no alias ${alias}`);
  const [target, ...rest] = current.previous;
  if (target === undefined) throw new ConflictError(`alias ${alias} of ${model} has no previous version to roll back to`);
  return write(store, model, alias, { version: target, previous: rest, updatedAt: new Date().toISOString() });
}
