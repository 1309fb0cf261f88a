/**
 * TF Serving's model status (GET /v1/models/{m}[/versions/{v}|/labels/{l}]) for a service that loads
 * on demand: the version a reference serves is loaded, as TF Serving's are, and reported as it is;
 * the bare model's other versions load on demand, so they are AVAILABLE unless this function found
 * that one cannot be served.
 */
import { DAMAGED_VERSION, IntegrityError, storeUnavailable } from '../errors.js';
import { readOrStale, StillLoadingError, type ModelLoader } from '../loader/index.js';
import { DAMAGED_MANIFEST, listVersions, type ModelRef } from '../registry/index.js';
import type { TimeLimit } from '../runtime/timeLimit.js';

/** A version the status route reports: why it cannot be served if it cannot, or that it is still loading. */
export interface VersionState {
  version: number;
  refused?: IntegrityError;
  loading?: boolean;
}

/**
 * The version the reference serves, loaded. One that exists but cannot be served is reported with
 * why, not a 500 of the status call; one whose load outlasts the request's time is LOADING (the load
 * goes on), not a 503, when the version is known. A damaged alias names no version: its 500 stands.
 */
async function servedState(loader: ModelLoader, ref: ModelRef, time?: TimeLimit): Promise<VersionState> {
  try {
    return { version: await loader.withModel(ref, (loaded) => loaded.version, time) };
  } catch (error) {
    const version =
      error instanceof IntegrityError ? loader.versionRefused(error) : error instanceof StillLoadingError ? (ref.version ?? loader.aliases.lastConfirmed(ref)?.version) : undefined;
    if (version === undefined) throw error;
    return error instanceof IntegrityError ? { version, refused: error } : { version, loading: true };
  }
}

/**
 * Every version a status request reports: the one named, or for the bare model every committed
 * version. While the store cannot list them, the version served is reported alone (from memory, as
 * predict keeps serving it).
 */
export async function versionStates(loader: ModelLoader, ref: ModelRef, time?: TimeLimit): Promise<VersionState[]> {
  const served = await servedState(loader, ref, time);
  if (ref.version !== undefined || ref.alias !== undefined) return [served];
  const versions = await readOrStale(
    ref.name,
    () => listVersions(loader.store, ref.name),
    () => [served.version],
  ).catch(storeUnavailable);
  return versions.map((version) => (version === served.version ? served : { version, refused: loader.refusalOf(ref.name, version) }));
}

const damaged = new Set([DAMAGED_VERSION, DAMAGED_MANIFEST]);

/**
 * GetModelStatusResponse as TF Serving prints it: AVAILABLE (loaded, or loads on demand), LOADING,
 * or END with the error of a version that exists but cannot be served, as TF Serving reports a
 * failed load: DATA_LOSS for files or a manifest that do not match, FAILED_PRECONDITION for whole
 * files TF.js cannot build or this backend cannot run.
 */
export function tfServingStatus(states: VersionState[]) {
  return {
    model_version_status: states.map(({ version, refused, loading }) => ({
      version: String(version),
      ...(refused
        ? { state: 'END' as const, status: { error_code: damaged.has(refused.publicMessage) ? 'DATA_LOSS' : 'FAILED_PRECONDITION', error_message: refused.publicMessage } }
        : { state: loading ? ('LOADING' as const) : ('AVAILABLE' as const), status: { error_code: 'OK', error_message: '' } }),
    })),
  };
}
