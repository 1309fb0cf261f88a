/**
 * A saved evaluation run now (`save: true` without async) sent with an Idempotency-Key: sent again
 * after its answer was lost, it answers the evaluation the first send saved rather than run and
 * save a second. The key, with the model as the path names it, names a record written create-only
 * (lib/jobs/idempotency.ts keyRecordKey) once the evaluation has run, before it is saved: the id it
 * is saved under, the version it evaluated (a retry after a promotion answers what the first send
 * ran on) and the request's sha256 (another request under the key: 422, as for jobs). A request
 * refused before it ran (a 400, a 404) uses no key: sent again corrected, it runs.
 */
import { z } from 'zod';
import { ConflictError, IntegrityError, NotFoundError, quoted, UnprocessableError } from '../../errors.js';
import { keyRecordKey } from '../../jobs/idempotency.js';
import { keys, sha256Hex } from '../../registry/index.js';
import { getJson, putNew, type ObjectStore } from '../../store/index.js';
import type { Evaluation } from './evaluate.js';
import { saveOnce } from './service.js';

/** The key a client sent, and the model as its path names it (iris, iris:2, iris@staging). */
export interface SaveKey {
  model: string;
  key: string;
}

const recordSchema = z.object({ evaluationId: z.string(), version: z.number().int().positive(), request: z.string() });
type KeyRecord = z.infer<typeof recordSchema>;

const recordAt = ({ model, key }: SaveKey) => keyRecordKey({ kind: 'saved-evaluation', model, key });
const requestHash = (request: unknown) => sha256Hex(new TextEncoder().encode(JSON.stringify(request)));

async function readRecord(store: ObjectStore, saveKey: SaveKey): Promise<KeyRecord | undefined> {
  const raw = await getJson(store, recordAt(saveKey)).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (raw === undefined) return undefined;
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success)
    throw new IntegrityError(`the record of Idempotency-Key ${quoted(saveKey.key)} is not one`, {
      publicMessage: 'the record of this Idempotency-Key is damaged in the store: send the request with a new key',
    });
  return parsed.data;
}

function checkSameRequest(record: KeyRecord, request: unknown, key: string): void {
  if (record.request !== requestHash(request)) {
    throw new UnprocessableError(`Idempotency-Key ${quoted(key)} was sent before with another request (evaluation ${record.evaluationId}): a new request takes a new key`);
  }
}

async function savedUnder(store: ObjectStore, name: string, record: KeyRecord): Promise<Evaluation | undefined> {
  return getJson<Evaluation>(store, keys.evaluation(name, record.version, record.evaluationId)).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
}

/**
 * Before running: what an earlier send under the key left. `saved`, the evaluation it saved (answer
 * it); else `version`, the one it evaluated (run that one again), or nothing (no send yet).
 */
export async function earlierSave(store: ObjectStore, name: string, saveKey: SaveKey, request: unknown): Promise<{ saved?: Evaluation; version?: number }> {
  const record = await readRecord(store, saveKey);
  if (!record) return {};
  checkSameRequest(record, request, saveKey.key);
  return { saved: await savedUnder(store, name, record), version: record.version };
}

/**
 * After running: the evaluation saved as the key's. This one, recorded now; or, when another send
 * under the key recorded first (at once, or before and died before saving), saved under that
 * send's id, create-only, so of the two one is saved and both answer it.
 */
export async function saveKeyed(store: ObjectStore, evaluation: Evaluation, saveKey: SaveKey, request: unknown): Promise<Evaluation> {
  const fresh: KeyRecord = { evaluationId: evaluation.id, version: evaluation.model.version, request: requestHash(request) };
  let record = fresh;
  try {
    await putNew(store, recordAt(saveKey), JSON.stringify(fresh), { contentType: 'application/json' });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    record = (await readRecord(store, saveKey)) ?? fresh;
    checkSameRequest(record, request, saveKey.key);
  }
  // Two first sends across a promotion: the key's evaluation is of the version recorded, not this one.
  if (record.version !== evaluation.model.version) {
    const saved = await savedUnder(store, evaluation.model.name, record);
    if (saved) return saved;
    throw new ConflictError(`Idempotency-Key ${quoted(saveKey.key)} was sent at the same time for version ${record.version}: send it again`);
  }
  return saveOnce(store, { ...evaluation, id: record.evaluationId }, true);
}

/**
 * A key names one request: sent as a job (async=true) and then saved now, or the other way round, it
 * is a 422 like any other request under a used key, not a second evaluation saved.
 */
export async function checkKeyMode(store: ObjectStore, saveKey: SaveKey, asJob: boolean): Promise<void> {
  const other = keyRecordKey({ kind: asJob ? 'saved-evaluation' : 'evaluate', model: saveKey.model, key: saveKey.key });
  if (await store.head(other)) {
    const before = asJob ? 'without async=true (saved now)' : 'with async=true (as a job)';
    throw new UnprocessableError(`Idempotency-Key ${quoted(saveKey.key)} was sent before ${before}: a new request takes a new key`);
  }
}
