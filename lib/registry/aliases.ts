/**
 * Aliases are pointer files `{model}/aliases/{alias}.json`. Each keeps the versions it pointed to
 * before, newest first, so a rollback needs no other record.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { BadRequestError, ConflictError, IntegrityError, NotFoundError } from '../errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { DamagedRecordError, getJson, getJsonVersioned, listAll, ObjectGoneError, type ObjectStore } from '../store/index.js';
import { checkVersionIntact } from './intact.js';
import { keys } from './keys.js';
import { DEFAULT_ALIAS, LATEST, validateName, validateNewAlias, validateWritableAlias } from './names.js';
import { latestVersion, readManifest } from './versions.js';

const HISTORY_LIMIT = 50;

const aliasSchema = z.object({
  version: z.number().int().positive(),
  previous: z.array(z.number().int().positive()).default([]),
  updatedAt: z.string(),
});
export type AliasRecord = z.infer<typeof aliasSchema>;

/** What GET and PUT /v2/models/{m}/aliases/{a} and its rollback answer (the source of their OpenAPI documentation). */
export const aliasResponse = aliasSchema
  .extend({ model: z.string(), alias: z.string(), previous: aliasSchema.shape.previous.describe('the versions it pointed to before, newest first') })
  .describe('the alias record');

/** What DELETE /v2/models/{m}/aliases/{a} answers: the record removed (none for a damaged file); a PUT of its version sets the alias again. */
export const deletedAliasResponse = aliasSchema
  .partial()
  .extend({ model: z.string(), alias: z.string(), deleted: z.literal(true) })
  .describe('the alias removed, with the version it pointed at and its history (absent for a damaged alias file)');

/**
 * The file as stored: the record and the id of the write that stored it, which tells that write
 * from any other even when both computed the same record. Readers of the record (aliasSchema)
 * drop it; records written before it have none.
 */
const storedSchema = aliasSchema.extend({ writeId: z.string().optional() });

/**
 * An alias file that is not an alias record (not JSON, or not of this shape: a hand edit) is
 * damage, not an outage: a 500 naming the alias, without Retry-After. Setting the alias again
 * (PUT, modelctl promote) writes over it.
 */
export class DamagedAliasError extends IntegrityError {
  constructor(model: string, alias: string, cause: unknown) {
    super(`alias ${alias} of ${model}: ${(cause as Error).message}`, {
      cause,
      publicMessage: `alias ${alias} of model ${model} is damaged in the store (not a valid alias record): set it again (PUT /v2/models/${model}/aliases/${alias}, or modelctl promote)`,
    });
    // Named as its kind: the batch state machine's Catch (serverless.yml) matches errors by name.
    this.name = 'IntegrityError';
  }
}

export async function readAlias(store: ObjectStore, model: string, alias: string): Promise<AliasRecord | undefined> {
  validateName(model);
  validateName(alias, 'alias');
  let value: unknown;
  try {
    value = await getJson(store, keys.alias(model, alias));
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    if (error instanceof IntegrityError) throw new DamagedAliasError(model, alias, error);
    throw error;
  }
  const parsed = aliasSchema.safeParse(value);
  if (!parsed.success) throw new DamagedAliasError(model, alias, new Error(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')));
  return parsed.data;
}

/**
 * Whether setting `alias` would be taken, checked before work that ends by setting it (a push, a
 * fine-tune's promotion): a writable name, and not a number unless the alias is stored already
 * (setAliasIf's rule for a new one). A 400 otherwise, before a version is written in vain.
 */
export async function checkAliasSettable(store: ObjectStore, model: string, alias: string): Promise<void> {
  validateWritableAlias(alias);
  if (!/^\d+$/.test(alias)) return;
  // A damaged one is there too, and a move writes over it.
  if ((await aliasFileState(store, model, alias)) === 'absent') validateNewAlias(alias);
}

/** Whether the alias file is absent, a record, or damaged (there, but no record: a move writes over it, a delete removes it). */
export async function aliasFileState(store: ObjectStore, model: string, alias: string): Promise<'absent' | 'record' | 'damaged'> {
  return readAlias(store, model, alias).then(
    (record) => (record === undefined ? 'absent' : 'record'),
    (error: unknown) => {
      if (error instanceof DamagedAliasError) return 'damaged';
      throw error;
    },
  );
}

/**
 * GET /v2/models/{m}/aliases/{a}: the record as stored, history included (what a rollback would go
 * back to). `latest` has no record: it is answered as what it is, the highest version, with its
 * manifest's createdAt. An alias that is not set is a 404, `production` with what requests naming no version get.
 */
export async function describeAlias(store: ObjectStore, model: string, alias: string): Promise<AliasRecord> {
  validateName(model);
  validateName(alias, 'alias');
  if (alias === LATEST) {
    const version = await latestVersion(store, model);
    return { version, previous: [], updatedAt: (await readManifest(store, model, version)).createdAt };
  }
  const record = await readAlias(store, model, alias);
  if (record) return record;
  const highest = await latestVersion(store, model); // an unknown model is reported as such, not as an unknown alias
  const served = alias === DEFAULT_ALIAS ? `: requests that name no version get its highest version, ${highest}` : '';
  throw new NotFoundError(`model ${model} has no alias ${alias}${served}`);
}

/**
 * The model's aliases and their versions. A damaged alias file is left out, so that one bad file
 * does not hide the others, nor the model list; a request that names it gets the 500 naming it.
 */
export async function listAliases(store: ObjectStore, model: string): Promise<Record<string, number>> {
  validateName(model);
  const prefix = keys.aliasesPrefix(model);
  const out: Record<string, number> = {};
  for await (const object of listAll(store, prefix)) {
    const alias = object.key.slice(prefix.length).replace(/\.json$/, '');
    try {
      const record = await readAlias(store, model, alias);
      if (record) out[alias] = record.version;
    } catch (error) {
      if (!(error instanceof DamagedAliasError)) throw error;
    }
  }
  return out;
}

/** What a move makes of the alias as read: the record to store, or undefined to leave it. */
type Move = (current: AliasRecord | undefined) => Promise<AliasRecord | undefined> | AliasRecord | undefined;

const ATTEMPTS = 5;

/**
 * The alias as stored, to move. A damaged file reads as no record at its ETag: the move writes
 * over it (its history is lost with it), which is how an operator repairs it.
 */
async function readVersioned(store: ObjectStore, model: string, alias: string): Promise<{ record?: AliasRecord; writeId?: string; etag: string } | undefined> {
  let read: Awaited<ReturnType<typeof getJsonVersioned>>;
  try {
    read = await getJsonVersioned(store, keys.alias(model, alias));
  } catch (error) {
    // Written over at the ETag of the very bytes read: a repair or move by another writer meanwhile is not undone.
    if (error instanceof DamagedRecordError && error.etag !== undefined) return { etag: error.etag };
    throw error;
  }
  if (!read) return undefined;
  const stored = storedSchema.safeParse(read.value);
  if (!stored.success) return { etag: read.etag };
  const { writeId, ...record } = stored.data;
  return { record, writeId, etag: read.etag };
}

/**
 * Applies `move` to the alias and writes the result over the very record it read (If-Match, or
 * create-only where there was none), so a concurrent move is never undone: one that lost the race
 * reads and moves again, up to ATTEMPTS times, then gives up with a 409. Without this, two promotions
 * both answered 200 with the same history and the first was lost from it, and a rollback racing a
 * promotion answered 200 and was overwritten. Each write carries an id of its own (writeId), so a
 * refused write is taken for one that landed only when that id is stored: comparing records, two
 * rollbacks from one state within a millisecond (the same record, updatedAt included) both answered
 * 200 and the alias went back one step. Returns the record stored (the one read when `move` leaves
 * it).
 */
async function update(store: ObjectStore, model: string, alias: string, move: Move): Promise<AliasRecord | undefined> {
  const key = keys.alias(model, alias);
  for (let attempt = 1; ; attempt += 1) {
    const read = await readVersioned(store, model, alias);
    const next = await move(read?.record);
    if (!next) return read?.record;
    const writeId = randomUUID();
    const body = JSON.stringify({ ...next, writeId }, null, 2);
    try {
      await store.put(key, body, read ? { ifMatch: read.etag, contentType: 'application/json' } : { ifNoneMatch: true, contentType: 'application/json' });
      return next;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // Refused because this very write had landed (the SDK retried it after a lost answer)?
      if ((await readVersioned(store, model, alias))?.writeId === writeId) return next;
      await lostRace(model, alias, attempt);
    }
  }
}

/** After a write of the alias lost the race to another: a pause apart from the writers it raced, or the 409 once ATTEMPTS have lost. */
async function lostRace(model: string, alias: string, attempt: number): Promise<void> {
  if (attempt === ATTEMPTS) throw new ConflictError(`alias ${alias} of ${model} kept being moved by other requests meanwhile; try again`);
  await sleep(attempt * (5 + Math.random() * 20));
}

const pointAt = (version: number, current: AliasRecord | undefined): AliasRecord => ({
  version,
  previous: current ? [current.version, ...current.previous].slice(0, HISTORY_LIMIT) : [],
  updatedAt: new Date().toISOString(),
});

/** Points alias at version (which must be committed), remembering where it pointed before. */
export async function setAlias(store: ObjectStore, model: string, alias: string, version: number): Promise<AliasRecord> {
  return (await setAliasIf(store, model, alias, version, async () => true)) as AliasRecord;
}

/**
 * setAlias, if `accept` agrees to replace the alias as it is when written (asked again whenever a
 * concurrent move changed it). undefined when it refused: the alias is left as it was.
 */
export async function setAliasIf(
  store: ObjectStore,
  model: string,
  alias: string,
  version: number,
  accept: (current: AliasRecord | undefined) => Promise<boolean>,
): Promise<AliasRecord | undefined> {
  validateWritableAlias(alias);
  // 404 for a version that does not exist, or for a model that does not (named so, as its reads name it).
  const manifest = await readManifest(store, model, version).catch(async (error: unknown) => {
    if (error instanceof NotFoundError) await latestVersion(store, model);
    throw error;
  });
  await checkVersionIntact(store, model, version, manifest, alias);
  let refused = false;
  const stored = await update(store, model, alias, async (current) => {
    if (current?.version === version) return undefined;
    if (!current) validateNewAlias(alias);
    refused = !(await accept(current));
    return refused ? undefined : pointAt(version, current);
  });
  return refused ? undefined : stored;
}

/**
 * Moves alias back to the version it pointed to before the last promotion. With `from`, only while
 * the alias points at that version: a rollback is not idempotent, so a client that lost the answer
 * of one and sends it again would take the alias back a second step; sent with `from`, the second
 * is a 409 naming where the alias points, and changes nothing.
 */
export async function rollbackAlias(store: ObjectStore, model: string, alias: string, options: { from?: number } = {}): Promise<AliasRecord> {
  validateWritableAlias(alias);
  // A damaged alias has no history to go back to: said as damage (a DamagedAliasError), which
  // setting the alias mends, not as an alias that does not exist.
  if (!(await readAlias(store, model, alias))) await latestVersion(store, model); // an unknown model is reported as such, not as an unknown alias
  const intact = new Set<number>(); // checked once each, whatever concurrent moves make the update read again
  const stored = await update(store, model, alias, async (current) => {
    if (!current) throw new NotFoundError(`model ${model} has no alias ${alias}`);
    if (options.from !== undefined && current.version !== options.from) {
      throw new ConflictError(`alias ${alias} of ${model} points at version ${current.version}, not ${options.from}: nothing was rolled back`);
    }
    const [target, ...rest] = current.previous;
    if (target === undefined) throw new ConflictError(`alias ${alias} of ${model} has no previous version to roll back to`);
    // As a PUT: the version gone back to must be one the function can load (a rollback is the emergency path).
    if (!intact.has(target)) {
      await checkVersionIntact(store, model, target, await readManifest(store, model, target), alias);
      intact.add(target);
    }
    return { version: target, previous: rest, updatedAt: new Date().toISOString() };
  });
  return stored as AliasRecord;
}

/**
 * Removes the alias (a name set by mistake, a stage no longer used), if it still is as read: the
 * delete is conditional on the ETag read (S3 If-Match), so a move by another writer meanwhile is
 * read again rather than deleted unseen. With `from`, only while the alias points at that version,
 * as a rollback; `production` only with it, as removing it sends every request that names no
 * version to the highest one. Returns the record removed (its version and history; a PUT sets the
 * version again, not the history). A damaged alias file is removed as any other (the delete is how
 * an operator clears it), production's without `from` (it names no version to compare); an alias that is gone is a 404, a delete sent again after its answer was
 * lost included.
 */
export async function deleteAlias(store: ObjectStore, model: string, alias: string, options: { from?: number } = {}): Promise<AliasRecord | undefined> {
  validateWritableAlias(alias);
  validateName(model);
  for (let attempt = 1; ; attempt += 1) {
    const read = await readVersioned(store, model, alias);
    if (!read) {
      await latestVersion(store, model); // an unknown model is reported as such, not as an unknown alias
      throw new NotFoundError(`model ${model} has no alias ${alias}`);
    }
    // A damaged production file already fails every request that names no version: removing it is the repair, with nothing to name.
    if (alias === DEFAULT_ALIAS && options.from === undefined && read.record) {
      throw new BadRequestError(
        `alias ${DEFAULT_ALIAS} is what requests naming no version of ${model} get: removed, they get its highest version. Name the version it points at to remove it (?from=N)`,
      );
    }
    if (options.from !== undefined && read.record?.version !== options.from) {
      const where = read.record ? `points at version ${read.record.version}` : 'is damaged';
      throw new ConflictError(`alias ${alias} of ${model} ${where}, not ${options.from}: nothing was deleted`);
    }
    try {
      await store.delete(keys.alias(model, alias), { ifMatch: read.etag });
      return read.record;
    } catch (error) {
      // The record read is gone: removed by this delete (the store client's retry after a lost
      // answer found nothing) or by another one. Nothing was put over it: removed, as asked.
      if (error instanceof ObjectGoneError) return read.record;
      // Another writer moved it (or holds the folder's lock): read again.
      if (!(error instanceof ConflictError)) throw error;
      await lostRace(model, alias, attempt);
    }
  }
}
