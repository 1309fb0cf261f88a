/**
 * A version made on another TF.js backend than this function's (pushed with TFJS_BACKEND=cpu,
 * served on wasm) runs its push's trial example here once, when it is loaded: a model this
 * backend cannot run (an op with no kernel here) is then refused at load, naming both backends,
 * instead of answering every request with "internal error" while /ready says it is ready.
 * Versions made on this backend ran that example on it already, and versions made before the
 * backend was recorded are not tried (nothing says they were made elsewhere). The cost, one
 * example's forward pass at a cold load, falls on versions pushed elsewhere only (a laptop whose
 * tfjs-node made the push's backend node).
 */
import { IntegrityError } from '../errors.js';
import { naturalRow, type Manifest } from '../registry/manifest.js';
import { backendName } from '../runtime/backend.js';
import { isBackendFault } from '../runtime/recovery.js';
import type { TfModel } from '../runtime/tfModel.js';
import { runExample } from '../runtime/trialRun.js';

/** What a client is told (the function's log has TF.js's words). */
export function otherBackendMessage(made: string, here: string): string {
  // The node backend is not in the functions' bundles; cpu has a kernel for every op TF.js runs.
  const serve = made === 'node' ? 'cpu' : made;
  return `the model version was made on the ${made} TF.js backend, and this function's (${here}) cannot run it: serve it with TFJS_BACKEND=${serve}, or push it again where the functions' backend runs it`;
}

export async function checkRunsOnThisBackend(model: TfModel, manifest: Manifest): Promise<void> {
  const here = backendName();
  if (manifest.backend === undefined || manifest.backend === here) return;
  try {
    await runExample(model, manifest.signature, naturalRow(manifest), 1, { scoped: false });
  } catch (error) {
    // A fault of the backend itself (its heap exhausted) is not the version's: the loader's recovery takes it.
    if (isBackendFault(error)) throw error;
    const words = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
    throw new IntegrityError(`${manifest.name}:${manifest.version} was made on the ${manifest.backend} backend and cannot run on ${here}: ${words}`, {
      cause: error,
      publicMessage: otherBackendMessage(manifest.backend, here),
      // Not damage: the version is whole, and another backend runs it.
      logAs: 'the model version cannot run on this backend',
    });
  }
}
