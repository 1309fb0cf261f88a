/**
 * Scores one uploaded file, in flat memory:
 *   source (ranged GET) -> rows -> micro-batches -> predictions and errors, streamed to part objects
 * When the invocation runs short of time it stops at a batch boundary, checkpoints, and asks for a
 * continuation; the last invocation joins the parts into the final outputs and writes the
 * manifest last. A succeeded manifest for the same source ETag means there is nothing to do.
 *
 * S3 delivers an event at least once, so one upload may start two runs at the same time. Each run
 * has an id, made when it starts from the S3 event and carried in its continuations and its
 * checkpoint, and writes its parts and checkpoint in a folder of its own (paths.ts runFiles): the
 * two never touch each other's. The outputs and the manifest are published holding a claim on the
 * source version (claim.ts): the first run to finish publishes, and the other ends without changing
 * them, removing its own folder.
 */
import type { Readable } from 'node:stream';
import { BadRequestError, IntegrityError, isStoreFailure, namesListed, NotFoundError, ServiceError } from '../errors.js';
import { withRecovery } from '../runtime/recovery.js';
import type { LoadedModel, ModelLoader } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import { csvRecordBatches } from '../inputs/csvRecords.js';
import { csvColumns, requiredColumns } from '../inputs/encode.js';
import { recordLimit, recordRoom } from '../inputs/recordRoom.js';
import type { RecordLimit } from '../inputs/recordLimit.js';
import { oneRowNeed } from '../ops/runModel.js';
import { ConcatUnsupportedError, getJson, listAll, ObjectChangedError, pinnableEtag, versionOf, type ObjectStore } from '../store/index.js';
import { newRunId, outputsFor, parseInputKey, refusedManifestKey, runFiles, type BatchInput, type BatchOutputs, type RunFiles, type ShardOutputs } from './paths.js';
import { withClaim } from './claim.js';
import { recordOf, scoreColumns, type ColumnarInput } from './columnar.js';
import { answerColumns, csvLine, OutputText, type Scored } from './output.js';
import { readJsonl, TOO_LONG, type BatchRow } from '../inputs/jsonLines.js';
import { scoreRows } from './score.js';
import { ObjectSink } from './sink.js';
import { checkpointSchema, type BatchManifest, type Checkpoint } from './state.js';
import { logger } from '../observability.js';
import { removeAbandoned } from './abandoned.js';

export interface BatchOptions {
  /** Rows per micro-batch is limits.maxBatch; the model runs them within limits.budget. */
  limits: RunLimits;
  /** Milliseconds left in this invocation (context.getRemainingTimeInMillis). */
  remainingMs: () => number;
  /** Stop and continue in a new invocation when fewer than this many ms are left. */
  marginMs: number;
  /** Starts the follow-up invocation (asynchronous), of this run. */
  continueLater: (key: string, run: string) => Promise<void>;
  /** The run this invocation continues (resumed from its checkpoint); unset: a new run starts. */
  resume?: string;
}

/** What an invocation did; `run` is its run's id (a continuation resumes it). */
export type BatchOutcome = { status: 'skipped' | 'continued' | 'succeeded' | 'failed'; manifest?: BatchManifest; run?: string };

/**
 * The longest a Lambda invocation lives (15 minutes): a run's claim on publishing lasts no longer
 * than its invocation can (claim.ts), however much time it is told it has (none told: tests, invoke local).
 */
const LONGEST_INVOCATION_MS = 15 * 60_000;

export async function readOptional<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  try {
    return await getJson<T>(store, key);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** A batch of scored rows, and where the next batch starts: a byte offset and the line before it. */
interface ScoredBatch {
  rows: Scored[];
  end: number;
  line: number;
}

/** The records of a CSV, scored batch by batch: columnar for tabular models, else as row objects. */
async function* scoredCsv(stream: Readable, loaded: LoadedModel, checkpoint: Checkpoint, limits: RunLimits, limit: RecordLimit): AsyncGenerator<ScoredBatch> {
  let header = checkpoint.columns;
  let columnar: ColumnarInput | undefined;
  const takeHeader = (cells: string[]) => {
    // Names trimmed (and the byte-order mark taken off), as evaluate reads a header and as the
    // duplicate check compares names (inputs/csvRecords.ts): one file means the same in both.
    const columns = cells.map((cell, i) => (i === 0 ? cell.replace(/^\uFEFF/, '') : cell).trim());
    const plan = csvColumns(loaded.manifest, columns);
    const missing = plan && 'missing' in plan ? plan.missing : (requiredColumns(loaded.manifest) ?? []).filter((c) => !columns.includes(c));
    if (missing.length) throw new BadRequestError(`the CSV header lacks column(s) ${missing.join(', ')}; it has ${namesListed(columns)}`);
    columnar = plan && !('missing' in plan) ? plan : undefined;
    return columns;
  };
  if (header) header = takeHeader(header);
  // A run that has not read the header starts at the top of the file (line 0).
  const start = { offset: checkpoint.offset, line: header ? checkpoint.line : 0 };
  for await (const { records, end } of csvRecordBatches(stream, limits.maxBatch, start, () => recordRoom(limits.budget, oneRowNeed(loaded, limits.budget)), limit)) {
    let rows = records;
    if (!header) {
      const [first] = records;
      header = takeHeader(first.cells);
      checkpoint.columns = header;
      rows = records.slice(1);
    }
    const width = header.length;
    const short = rows.find((row) => row.cells.length !== width);
    if (short) throw new BadRequestError(`the CSV is malformed near line ${short.line}: ${short.cells.length} fields where the header has ${width}`);
    const line = records[records.length - 1].line;
    if (rows.length === 0) {
      Object.assign(checkpoint, { offset: end, line });
      continue;
    }
    if (columnar) yield { rows: await scoreColumns(loaded, columnar, header, rows, limits), end, line };
    else {
      const columns = header;
      const results = await scoreRows(
        loaded,
        rows.map((row) => ({ line: row.line, end, values: recordOf(columns, row.cells) })),
        true,
        limits,
      );
      yield { rows: results.map((result, i) => ({ line: rows[i].line, text: rows[i].text, answer: result.answer, error: result.error })), end, line };
    }
  }
}

/**
 * The lines of a JSON Lines file, scored batch by batch; a line that is not an object is an error in
 * its place. A batch ends at MAX_BATCH lines, or at the line whose bytes reach the records' share of
 * the budget (inputs/recordRoom.ts): each row is scored on its own, so where a batch ends changes no output.
 * A line longer than `limit` is read past, and is its row's error in the limit's words.
 */
async function* scoredJsonl(stream: Readable, loaded: LoadedModel, checkpoint: Checkpoint, limits: RunLimits, limit: RecordLimit): AsyncGenerator<ScoredBatch> {
  let items: (BatchRow | { line: number; end: number; error: string })[] = [];
  let start = checkpoint.offset;
  let room = recordRoom(limits.budget, oneRowNeed(loaded, limits.budget));
  const score = async (): Promise<ScoredBatch> => {
    const rows = items.filter((item): item is BatchRow => 'values' in item);
    const results = (await scoreRows(loaded, rows, false, limits)).values();
    const scored = items.map((item): Scored => ('values' in item ? { line: item.line, ...results.next().value } : item));
    const last = items[items.length - 1];
    items = [];
    start = last.end;
    return { rows: scored, end: last.end, line: last.line };
  };
  for await (const item of readJsonl(stream, { offset: checkpoint.offset, line: checkpoint.line }, limit.bytes)) {
    items.push('error' in item && item.error === TOO_LONG ? { ...item, error: limit.tooLong(item.line).message } : item);
    if (items.length >= limits.maxBatch || item.end - start >= room) {
      yield await score();
      room = recordRoom(limits.budget, oneRowNeed(loaded, limits.budget));
    }
  }
  if (items.length > 0) yield await score();
}

async function* scoredBatches(store: ObjectStore, loaded: LoadedModel, input: BatchInput, checkpoint: Checkpoint, limits: RunLimits): AsyncGenerator<ScoredBatch> {
  // The version this run began on: a file replaced since (after a sharded run was planned, or
  // between a run's head and this read) is ObjectChangedError, not new bytes at the old offsets.
  const ifMatch = pinnableEtag(checkpoint.sourceEtag);
  const stream = await store.getStream(input.key, { start: checkpoint.offset || undefined, end: checkpoint.end, ifMatch });
  // One record is held whole while it is read: the longest this function's memory holds, not only
  // a file's 32 MiB (a 33 MB line took a 256 MB function to 264 MB). Past it, a JSON line is a bad
  // row and a CSV record fails the file, as a record past 32 MiB does (recordLimit: none when not
  // even one row fits, so every row was not "too long" for its budget).
  const limit = recordLimit(limits.budget, oneRowNeed(loaded, limits.budget));
  try {
    yield* input.format === 'csv' ? scoredCsv(stream, loaded, checkpoint, limits, limit) : scoredJsonl(stream, loaded, checkpoint, limits, limit);
  } finally {
    stream.destroy();
  }
}

/**
 * The parts, in order, into one object: joined by the store itself where it can (S3: server-side
 * copies), else streamed through. `ready(i)` is awaited before part i is read (ObjectStore.concat).
 */
async function joinParts(store: ObjectStore, parts: string[], target: string, contentType: string, ready?: (index: number) => Promise<void>): Promise<void> {
  if (store.concat) {
    try {
      return await store.concat(parts, target, { contentType, ready });
    } catch (error) {
      if (!(error instanceof ConcatUnsupportedError)) throw error;
    }
  }
  const sink = new ObjectSink(store, target, contentType);
  try {
    for (const [index, part] of parts.entries()) {
      await ready?.(index);
      for await (const chunk of await store.getStream(part)) await sink.write(chunk.toString());
    }
  } catch (error) {
    // A part that cannot be read (or a range refused): the upload is aborted, not left open and
    // waiting for bytes that never come (its parts billed, the function holding it).
    await sink.abort(error as Error);
    throw error;
  }
  await sink.close();
}

/**
 * The parts, in order, into the final outputs, and the manifest last; an earlier manifest goes
 * first, so that while the outputs are replaced, or after a join cut short (a store failure, retried
 * later), no manifest stands beside outputs it does not describe. What removes the parts is the
 * caller's (a run's folder, or a sharded run's parts prefix). With `partReady`, the join starts
 * before every part is written (a local sharded run joins each range's part once it and those
 * before it are scored): it is awaited before predictions part i is read, and `checkpoint.rows`
 * is read once every part is joined.
 */
export async function finish(
  store: ObjectStore,
  input: BatchInput,
  outputs: BatchOutputs,
  parts: Pick<ShardOutputs, 'part'>,
  checkpoint: Checkpoint,
  partReady?: (index: number) => Promise<void>,
): Promise<BatchManifest> {
  const keys = (kind: 'predictions' | 'errors') => Array.from({ length: checkpoint.parts }, (_, i) => parts.part(i, kind));
  await store.delete(outputs.manifest);
  await joinParts(store, keys('predictions'), outputs.predictions, input.format === 'csv' ? 'text/csv' : 'application/x-ndjson', partReady);
  await joinParts(store, keys('errors'), outputs.errors, 'application/x-ndjson');
  const manifest: BatchManifest = {
    status: 'succeeded',
    model: checkpoint.model,
    source: { key: input.key, etag: checkpoint.sourceEtag },
    rows: checkpoint.rows,
    outputs: { predictions: outputs.predictions, errors: outputs.errors },
    invocations: checkpoint.invocations,
    durationMs: Date.now() - Date.parse(checkpoint.startedAt),
    startedAt: checkpoint.startedAt,
    finishedAt: new Date().toISOString(),
  };
  await store.put(outputs.manifest, JSON.stringify(manifest, null, 2), { contentType: 'application/json' });
  return manifest;
}

/** Every object under a prefix. */
export async function removeUnder(store: ObjectStore, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const object of listAll(store, prefix)) keys.push(object.key);
  await Promise.all(keys.map((key) => store.delete(key)));
}

/** Everything under the sharded runs' parts folders (parts, plans and range counts), of every version of the source. */
export function removeParts(store: ObjectStore, outputs: Pick<BatchOutputs, 'shardsPrefix'>): Promise<void> {
  return removeUnder(store, outputs.shardsPrefix);
}

/** What a failed run had done when it stopped. */
export interface FailedRun {
  startedAt: string;
  etag?: string;
  model?: BatchManifest['model'];
  rows?: BatchManifest['rows'];
  invocations?: number;
}

/** Writes the manifest of a failed run: a client's error in its own words (the file's fault), anything else as internal. */
export async function recordFailure(
  store: ObjectStore,
  input: Pick<BatchInput, 'key'>,
  outputs: Pick<BatchOutputs, 'manifest'> & Partial<Pick<BatchOutputs, 'predictions' | 'errors'>>,
  error: unknown,
  run: FailedRun,
): Promise<BatchManifest> {
  // A client's error in its own words; a server-side one in the words it gives for clients (a damaged version, a local range that failed), else none.
  const publicMessage = (error as { publicMessage?: unknown }).publicMessage;
  const message =
    error instanceof ServiceError && error.statusCode < 500 ? error.message : typeof publicMessage === 'string' ? publicMessage : 'internal error (see the function log)';
  const manifest: BatchManifest = {
    status: 'failed',
    model: run.model,
    source: { key: input.key, etag: run.etag },
    rows: run.rows ?? { read: 0, scored: 0, failed: 0 },
    error: message,
    invocations: run.invocations ?? 1,
    durationMs: Date.now() - Date.parse(run.startedAt),
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
  };
  await store.put(outputs.manifest, JSON.stringify(manifest, null, 2), { contentType: 'application/json' });
  // The outputs of an earlier upload under the same key describe bytes that are gone: beside this
  // manifest they would read as this upload's. Removed after the manifest is written, so no
  // manifest ever lists outputs that are not there.
  await Promise.all([outputs.predictions, outputs.errors].filter((key) => key !== undefined).map((key) => store.delete(key)));
  return manifest;
}

/** The version of the source now, as the trigger records it (its ETag, or its size without one); undefined when it is gone. */
export async function sourceVersion(store: ObjectStore, key: string): Promise<string | undefined> {
  const source = await store.head(key);
  return source && versionOf(source);
}

/**
 * Whether another version of the source has been uploaded since version `etag` was read. A source
 * deleted since is not: no upload's run owns the outputs then, and the bytes read are this version's.
 */
export async function replaced(store: ObjectStore, key: string, etag: string): Promise<boolean> {
  const now = await sourceVersion(store, key);
  return now !== undefined && now !== etag;
}

/** What a run publishes with: where, its folder, the source (its key, and the version it scored), since when, and until when it may (its invocation's end). */
interface Publisher {
  store: ObjectStore;
  outputs: BatchOutputs;
  files: RunFiles;
  key: string;
  etag: string;
  startedAt: string;
  until: () => number;
}

/**
 * A manifest another run wrote for this source version that stands: a succeeded one, or a failure
 * recorded since this run began (the other delivery of the event, finished first). A failure from
 * before (an upload of the same bytes again, after the model was fixed) is scored over.
 */
function publishedSince(manifest: BatchManifest | undefined, etag: string, startedAt: string): manifest is BatchManifest {
  return manifest?.source.etag === etag && (manifest.status === 'succeeded' || Date.parse(manifest.finishedAt) >= Date.parse(startedAt));
}

/**
 * Writes this run's verdict on the source version (the joined outputs and a succeeded manifest,
 * or a failed manifest) once per version: holding the version's claim, only while the source is
 * still that version, and only when no other run has published one since this run began.
 * `published` false: the outputs are left as that other run wrote them (or is writing them), and
 * `manifest` is its, when there is one yet; or the file was replaced after this run read it to the
 * end, and the new upload's run owns the outputs (its verdict may be out already: this one's would
 * overwrite it, a failure removing its outputs). This run's folder goes either way.
 */
async function publishOnce(run: Publisher, write: () => Promise<BatchManifest>): Promise<{ published: boolean; manifest?: BatchManifest }> {
  const { store, outputs, files } = run;
  const claimed = await withClaim(store, outputs.publication(run.etag), files.run, run.until(), async () => {
    if (await replaced(store, run.key, run.etag)) return { published: false };
    const current = await readOptional<BatchManifest>(store, outputs.manifest);
    if (publishedSince(current, run.etag, run.startedAt)) return { published: false, manifest: current };
    return { published: true, manifest: await write() };
  });
  await removeUnder(store, files.prefix);
  if (claimed.held && claimed.value.published) await removeAbandoned(store, outputs.runsPrefix);
  return claimed.held ? claimed.value : { published: false };
}

async function fail(run: Publisher, input: BatchInput, error: unknown, checkpoint?: Checkpoint): Promise<BatchOutcome> {
  const { published, manifest } = await publishOnce(run, () => recordFailure(run.store, input, run.outputs, error, { ...checkpoint, startedAt: run.startedAt, etag: run.etag }));
  return { status: published ? 'failed' : 'skipped', manifest, run: run.files.run };
}

/** Where a run reads its source object and writes everything else (the same store for the S3 trigger). */
export interface BatchIO {
  source: ObjectStore;
  output: ObjectStore;
}

/**
 * Runs (part of) the file in this invocation, from checkpoint.offset up to checkpoint.end (a
 * sharded run's range) or the end, into part number checkpoint.parts (a run's own, or a sharded
 * run's); returns true when that is done.
 */
export async function scorePart(
  io: BatchIO,
  loaded: LoadedModel,
  input: BatchInput,
  parts: Pick<ShardOutputs, 'part'>,
  checkpoint: Checkpoint,
  options: BatchOptions,
): Promise<boolean> {
  const part = checkpoint.parts;
  const csv = input.format === 'csv';
  const predictions = new ObjectSink(io.output, parts.part(part, 'predictions'), 'application/octet-stream');
  const errors = new ObjectSink(io.output, parts.part(part, 'errors'), 'application/octet-stream');
  const text = new OutputText(csv);
  let headerWritten = part > 0;
  const writeHeader = async () => {
    if (!csv || headerWritten || !checkpoint.columns) return;
    await predictions.write(csvLine([...checkpoint.columns, ...answerColumns(loaded.manifest, checkpoint.columns)]));
    headerWritten = true;
  };
  let done = true;
  try {
    for await (const batch of scoredBatches(io.source, loaded, input, checkpoint, options.limits)) {
      await writeHeader();
      // One write per batch and file: rows keep their line order within each file. The lines are
      // joined once (appending each to a string made a chain of pieces to copy again at the write).
      const scored: string[] = [];
      const failed: string[] = [];
      for (const row of batch.rows) {
        if (row.answer) scored.push(text.prediction(row, row.answer));
        else failed.push(text.error(row));
      }
      if (scored.length > 0) await predictions.write(scored.join(''));
      if (failed.length > 0) await errors.write(failed.join(''));
      checkpoint.rows.read += batch.rows.length;
      checkpoint.rows.failed += failed.length;
      checkpoint.rows.scored = checkpoint.rows.read - checkpoint.rows.failed;
      checkpoint.offset = batch.end;
      checkpoint.line = batch.line;
      if (options.remainingMs() < options.marginMs) {
        done = false;
        break;
      }
    }
    await writeHeader();
    await Promise.all([predictions.close(), errors.close()]);
  } catch (error) {
    await Promise.all([predictions.abort(error as Error), errors.abort(error as Error)]);
    throw error;
  }
  checkpoint.parts += 1;
  return done;
}

/**
 * An upload whose key names no model, or not a file that is scored: a failed manifest naming the
 * problem where the outputs would have been, rather than an error the event is retried for (and
 * that stops the event's other files).
 */
async function refuseKey(store: ObjectStore, key: string, error: BadRequestError, started: Date): Promise<BatchOutcome> {
  const skipped = (): BatchOutcome => {
    logger.warn('batch upload not scored', { key, reason: error.message });
    return { status: 'skipped' };
  };
  // A key with no place for a manifest (an empty, `.` or `..` segment) is not read either: a folder
  // store refuses a `..` outright (it would leave the store's root), which threw out of the whole
  // event and left its other files unscored.
  const manifestKey = refusedManifestKey(key);
  if (!manifestKey) return skipped();
  const source = await store.head(key);
  if (!source) return skipped();
  const manifest = await recordFailure(store, { key }, { manifest: manifestKey }, error, {
    startedAt: started.toISOString(),
    etag: versionOf(source),
    invocations: 1,
  });
  return { status: 'failed', manifest };
}

export async function scoreObject(store: ObjectStore, loader: ModelLoader, key: string, options: BatchOptions): Promise<BatchOutcome> {
  const started = new Date();
  let input: BatchInput;
  try {
    input = parseInputKey(key);
  } catch (error) {
    if (error instanceof BadRequestError) return refuseKey(store, key, error, started);
    throw error;
  }
  const outputs = outputsFor(input);
  const run = options.resume ?? newRunId();
  const files = runFiles(outputs, run);
  /** This run ends here, doing nothing more: what it wrote so far goes (a new run has written nothing yet). */
  const leave = async (manifest?: BatchManifest): Promise<BatchOutcome> => {
    if (options.resume) await removeUnder(store, files.prefix);
    return { status: 'skipped', manifest, run };
  };
  const etag = await sourceVersion(store, key);
  if (etag === undefined) return leave();
  const previous = await readOptional<BatchManifest>(store, outputs.manifest);
  if (previous?.status === 'succeeded' && previous.source.etag === etag) return leave(previous);

  const saved = options.resume ? await readOptional<unknown>(store, files.checkpoint) : undefined;
  const resumable = saved ? checkpointSchema.safeParse(saved) : undefined;
  let checkpoint: Checkpoint | undefined = resumable?.success && resumable.data.sourceEtag === etag && resumable.data.run === run ? resumable.data : undefined;
  // A stale continuation: the file was replaced since (the new upload has a run of its own).
  if (options.resume && !checkpoint) return leave();
  const publisher: Publisher = {
    store,
    outputs,
    files,
    key,
    etag,
    startedAt: checkpoint?.startedAt ?? started.toISOString(),
    until: () => Date.now() + Math.min(options.remainingMs(), LONGEST_INVOCATION_MS),
  };
  try {
    const ref = checkpoint ? { name: checkpoint.model.name, version: checkpoint.model.version } : input.ref;
    // A backend fault resets TF.js, and the event is retried on a working one.
    return await withRecovery(() =>
      loader.withModel(ref, async (loaded): Promise<BatchOutcome> => {
        checkpoint ??= {
          run,
          sourceEtag: etag,
          model: { name: loaded.name, version: loaded.version },
          offset: 0,
          line: input.format === 'csv' ? 1 : 0,
          parts: 0,
          rows: { read: 0, scored: 0, failed: 0 },
          startedAt: publisher.startedAt,
          invocations: 1,
        };
        const state = checkpoint;
        if (options.resume) state.invocations += 1;
        const done = await scorePart({ source: store, output: store }, loaded, input, files, state, options);
        if (done) {
          const { published, manifest } = await publishOnce(publisher, () => finish(store, input, outputs, files, state));
          return { status: published ? 'succeeded' : 'skipped', manifest, run };
        }
        await store.put(files.checkpoint, JSON.stringify(state), { contentType: 'application/json' });
        await options.continueLater(key, run);
        return { status: 'continued', run };
      }),
    );
  } catch (error) {
    // Replaced between the head above and the read: the new upload's own run owns the outputs, so
    // this one leaves them alone, as a stale continuation does.
    if (error instanceof ObjectChangedError) {
      await removeUnder(store, files.prefix);
      return { status: 'skipped', run };
    }
    if ((error instanceof ServiceError && error.statusCode >= 500 && !(error instanceof IntegrityError)) || isStoreFailure(error)) {
      // A transient failure (store, model load): let Lambda retry the event rather than record a
      // verdict. A damaged version (IntegrityError) would read the same bytes again: that is one.
      // The store's own errors are not ServiceErrors: a throttled part write (SlowDown past the
      // client's retries) recorded 'failed: internal error' for good and removed the earlier outputs.
      // A continuation's retry resumes this run from its checkpoint; an S3 event's starts a new
      // run, so what this one wrote goes (as far as the store lets it now).
      if (!options.resume) await removeUnder(store, files.prefix).catch(() => undefined);
      throw error;
    }
    return fail(publisher, input, error, checkpoint);
  }
}
