/**
 * Scores one uploaded file, in flat memory:
 *   source (ranged GET) -> rows -> micro-batches -> predictions and errors, streamed to part objects
 * When the invocation runs short of time it stops at a batch boundary, checkpoints, and asks for a
 * continuation; the last invocation joins the parts into the final outputs and writes the
 * manifest last. A succeeded manifest for the same source ETag means there is nothing to do.
 */
import type { Readable } from 'node:stream';
import { BadRequestError, IntegrityError, NotFoundError, ServiceError } from '../errors.js';
import { withRecovery } from '../runtime/recovery.js';
import type { LoadedModel, ModelLoader } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import { csvRecordBatches } from '../inputs/csvRecords.js';
import { csvColumns, requiredColumns } from '../inputs/encode.js';
import { recordRoom } from '../inputs/recordRoom.js';
import { ConcatUnsupportedError, getJson, listAll, ObjectChangedError, pinnableEtag, type ObjectStore } from '../store/index.js';
import { outputsFor, parseInputKey, refusedManifestKey, type BatchInput, type BatchOutputs } from './paths.js';
import { recordOf, scoreColumns, type ColumnarInput } from './columnar.js';
import { answerColumns, csvLine, OutputText, type Scored } from './output.js';
import { readJsonl, type BatchRow } from '../inputs/jsonLines.js';
import { scoreRows } from './score.js';
import { ObjectSink } from './sink.js';
import { checkpointSchema, type BatchManifest, type Checkpoint } from './state.js';
import { logger } from '../observability.js';

export interface BatchOptions {
  /** Rows per micro-batch is limits.maxBatch; the model runs them within limits.budget. */
  limits: RunLimits;
  /** Milliseconds left in this invocation (context.getRemainingTimeInMillis). */
  remainingMs: () => number;
  /** Stop and continue in a new invocation when fewer than this many ms are left. */
  marginMs: number;
  /** Starts the follow-up invocation (asynchronous). */
  continueLater: (key: string) => Promise<void>;
  /** true when this invocation is a continuation (resume from the checkpoint). */
  resume?: boolean;
}

export type BatchOutcome = { status: 'skipped' | 'continued' | 'succeeded' | 'failed'; manifest?: BatchManifest };

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
async function* scoredCsv(stream: Readable, loaded: LoadedModel, checkpoint: Checkpoint, limits: RunLimits): AsyncGenerator<ScoredBatch> {
  let header = checkpoint.columns;
  let columnar: ColumnarInput | undefined;
  const takeHeader = (columns: string[]) => {
    const plan = csvColumns(loaded.manifest, columns);
    const missing = plan && 'missing' in plan ? plan.missing : (requiredColumns(loaded.manifest) ?? []).filter((c) => !columns.includes(c));
    if (missing.length) throw new BadRequestError(`the CSV header lacks column(s) ${missing.join(', ')}; it has ${columns.join(', ')}`);
    columnar = plan && !('missing' in plan) ? plan : undefined;
    return columns;
  };
  if (header) takeHeader(header);
  // A run that has not read the header starts at the top of the file (line 0).
  const start = { offset: checkpoint.offset, line: header ? checkpoint.line : 0 };
  for await (const { records, end } of csvRecordBatches(stream, limits.maxBatch, start, () => recordRoom(limits.budget))) {
    let rows = records;
    if (!header) {
      const [first] = records;
      header = takeHeader(first.cells.map((cell, i) => (i === 0 ? cell.replace(/^\uFEFF/, '') : cell)));
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
 */
async function* scoredJsonl(stream: Readable, loaded: LoadedModel, checkpoint: Checkpoint, limits: RunLimits): AsyncGenerator<ScoredBatch> {
  let items: (BatchRow | { line: number; end: number; error: string })[] = [];
  let start = checkpoint.offset;
  let room = recordRoom(limits.budget);
  const score = async (): Promise<ScoredBatch> => {
    const rows = items.filter((item): item is BatchRow => 'values' in item);
    const results = (await scoreRows(loaded, rows, false, limits)).values();
    const scored = items.map((item): Scored => ('values' in item ? { line: item.line, ...results.next().value } : item));
    const last = items[items.length - 1];
    items = [];
    start = last.end;
    return { rows: scored, end: last.end, line: last.line };
  };
  for await (const item of readJsonl(stream, { offset: checkpoint.offset, line: checkpoint.line })) {
    items.push(item);
    if (items.length >= limits.maxBatch || item.end - start >= room) {
      yield await score();
      room = recordRoom(limits.budget);
    }
  }
  if (items.length > 0) yield await score();
}

async function* scoredBatches(store: ObjectStore, loaded: LoadedModel, input: BatchInput, checkpoint: Checkpoint, limits: RunLimits): AsyncGenerator<ScoredBatch> {
  // The version this run began on: a file replaced since (after a sharded run was planned, or
  // between a run's head and this read) is ObjectChangedError, not new bytes at the old offsets.
  const ifMatch = pinnableEtag(checkpoint.sourceEtag);
  const stream = await store.getStream(input.key, { start: checkpoint.offset || undefined, end: checkpoint.end, ifMatch });
  try {
    yield* input.format === 'csv' ? scoredCsv(stream, loaded, checkpoint, limits) : scoredJsonl(stream, loaded, checkpoint, limits);
  } finally {
    stream.destroy();
  }
}

/** The parts, in order, into one object: joined by the store itself where it can (S3: server-side copies), else streamed through. */
async function joinParts(store: ObjectStore, parts: string[], target: string, contentType: string): Promise<void> {
  if (store.concat) {
    try {
      return await store.concat(parts, target, { contentType });
    } catch (error) {
      if (!(error instanceof ConcatUnsupportedError)) throw error;
    }
  }
  const sink = new ObjectSink(store, target, contentType);
  for (const part of parts) {
    for await (const chunk of await store.getStream(part)) await sink.write(chunk.toString());
  }
  await sink.close();
}

export async function finish(store: ObjectStore, input: BatchInput, outputs: BatchOutputs, checkpoint: Checkpoint): Promise<BatchManifest> {
  const parts = (kind: 'predictions' | 'errors') => Array.from({ length: checkpoint.parts }, (_, i) => outputs.part(i, kind));
  await joinParts(store, parts('predictions'), outputs.predictions, input.format === 'csv' ? 'text/csv' : 'application/x-ndjson');
  await joinParts(store, parts('errors'), outputs.errors, 'application/x-ndjson');
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
  await removeRunParts(store, outputs, checkpoint.parts, checkpoint.startedAt);
  await store.delete(outputs.checkpoint);
  return manifest;
}

/**
 * This run's parts, and whatever under the parts prefix is older than the run: a run of an earlier
 * upload of the same key, replaced between two of its invocations, leaves its later parts there.
 * Not the prefix whole: a newer upload's run may be writing there already.
 */
async function removeRunParts(store: ObjectStore, outputs: BatchOutputs, parts: number, startedAt: string): Promise<void> {
  const keys = new Set(Array.from({ length: parts }, (_, i) => [outputs.part(i, 'predictions'), outputs.part(i, 'errors')]).flat());
  const started = Date.parse(startedAt);
  for await (const object of listAll(store, outputs.partsPrefix)) if (object.lastModified && object.lastModified.getTime() < started) keys.add(object.key);
  await Promise.all([...keys].map((key) => store.delete(key)));
}

/** Everything under a run's parts prefix (parts, a sharded run's plan and range counts). */
export async function removeParts(store: ObjectStore, outputs: Pick<BatchOutputs, 'partsPrefix'>): Promise<void> {
  const keys: string[] = [];
  for await (const object of listAll(store, outputs.partsPrefix)) keys.push(object.key);
  await Promise.all(keys.map((key) => store.delete(key)));
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
  outputs: Pick<BatchOutputs, 'manifest'>,
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
  return manifest;
}

async function fail(store: ObjectStore, input: BatchInput, outputs: BatchOutputs, error: unknown, started: Date, etag?: string, checkpoint?: Checkpoint): Promise<BatchManifest> {
  const startedAt = checkpoint?.startedAt ?? started.toISOString();
  const manifest = await recordFailure(store, input, outputs, error, { ...checkpoint, startedAt, etag });
  // The part being written when it failed too.
  await removeRunParts(store, outputs, (checkpoint?.parts ?? 0) + 1, startedAt);
  await store.delete(outputs.checkpoint);
  return manifest;
}

/** Where a run reads its source object and writes everything else (the same store for the S3 trigger). */
export interface BatchIO {
  source: ObjectStore;
  output: ObjectStore;
}

/**
 * Runs (part of) the file in this invocation, from checkpoint.offset up to checkpoint.end (a
 * sharded run's range) or the end; returns true when that is done.
 */
export async function scorePart(io: BatchIO, loaded: LoadedModel, input: BatchInput, outputs: BatchOutputs, checkpoint: Checkpoint, options: BatchOptions): Promise<boolean> {
  const part = checkpoint.parts;
  const csv = input.format === 'csv';
  const predictions = new ObjectSink(io.output, outputs.part(part, 'predictions'), 'application/octet-stream');
  const errors = new ObjectSink(io.output, outputs.part(part, 'errors'), 'application/octet-stream');
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
      // One write per batch and file: rows keep their line order within each file.
      let scored = '';
      let failed = '';
      for (const row of batch.rows) {
        if (row.answer) scored += text.prediction({ ...row, answer: row.answer });
        else failed += text.error(row);
      }
      if (scored) await predictions.write(scored);
      if (failed) await errors.write(failed);
      checkpoint.rows.read += batch.rows.length;
      checkpoint.rows.failed += batch.rows.filter((row) => !row.answer).length;
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
  const source = await store.head(key);
  const manifestKey = refusedManifestKey(key);
  if (!source || !manifestKey) {
    logger.warn('batch upload not scored', { key, reason: error.message });
    return { status: 'skipped' };
  }
  const manifest = await recordFailure(store, { key }, { manifest: manifestKey }, error, {
    startedAt: started.toISOString(),
    etag: source.etag ?? String(source.size),
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
  const source = await store.head(key);
  if (!source) return { status: 'skipped' };
  const etag = source.etag ?? `${source.size}`;
  const previous = await readOptional<BatchManifest>(store, outputs.manifest);
  if (previous?.status === 'succeeded' && previous.source.etag === etag) return { status: 'skipped', manifest: previous };

  const saved = options.resume ? await readOptional<unknown>(store, outputs.checkpoint) : undefined;
  const resumable = saved ? checkpointSchema.safeParse(saved) : undefined;
  let checkpoint: Checkpoint | undefined = resumable?.success && resumable.data.sourceEtag === etag ? resumable.data : undefined;
  if (options.resume && !checkpoint) return { status: 'skipped' }; // a stale continuation: a fresh run owns the file now
  try {
    const ref = checkpoint ? { name: checkpoint.model.name, version: checkpoint.model.version } : input.ref;
    // A backend fault resets TF.js, and the event is retried on a working one.
    return await withRecovery(() =>
      loader.withModel(ref, async (loaded) => {
        checkpoint ??= {
          sourceEtag: etag,
          model: { name: loaded.name, version: loaded.version },
          offset: 0,
          line: input.format === 'csv' ? 1 : 0,
          parts: 0,
          rows: { read: 0, scored: 0, failed: 0 },
          startedAt: started.toISOString(),
          invocations: 1,
        };
        if (options.resume) checkpoint.invocations += 1;
        const done = await scorePart({ source: store, output: store }, loaded, input, outputs, checkpoint, options);
        if (done) return { status: 'succeeded', manifest: await finish(store, input, outputs, checkpoint) };
        await store.put(outputs.checkpoint, JSON.stringify(checkpoint), { contentType: 'application/json' });
        await options.continueLater(key);
        return { status: 'continued' } as const;
      }),
    );
  } catch (error) {
    // Replaced between the head above and the read: the new upload's own run owns the outputs, so
    // this one leaves them alone, as a stale continuation does.
    if (error instanceof ObjectChangedError) return { status: 'skipped' };
    if (error instanceof ServiceError && error.statusCode >= 500 && !(error instanceof IntegrityError)) {
      // A transient failure (store, model load): let Lambda retry the event rather than record a
      // verdict. A damaged version (IntegrityError) would read the same bytes again: that is one.
      throw error;
    }
    return { status: 'failed', manifest: await fail(store, input, outputs, error, started, etag, checkpoint) };
  }
}
