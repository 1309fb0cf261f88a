/**
 * Moving an alias to a fine-tuned version. The decision (with ifBetter, the alias's version run on
 * the same validation data) is made before the version is written, so a failure of the model or the
 * backend there fails the job with nothing stored. Only the alias write comes after the version's:
 * if it fails, the job still succeeds, and its result names the version written and why the alias
 * did not move (never "failed" with no result while a new version exists).
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ServiceError, UnavailableError } from '../../errors.js';
import { readVersion } from '../../loader/readVersion.js';
import { readAlias, setAlias } from '../../registry/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import type { ObjectStore } from '../../store/index.js';
import type { LabelledData } from './data.js';
import type { FineTuneRequest } from './request.js';
import { isBetter, validationMetrics } from './validate.js';

export interface Promotion {
  alias: string;
  moved: boolean;
  reason: string;
  /** Set when the alias should have moved but writing it failed. */
  error?: string;
}

export interface PromotionDecision {
  alias: string;
  move: boolean;
  reason: string;
}

/**
 * Whether the request's alias should move to the new version, whose validation metrics are
 * `metrics`. `written`: the version, when a redelivered job finds it already written (an alias
 * already pointing at it was moved by the earlier attempt: not compared with itself).
 */
export async function decidePromotion(
  store: ObjectStore,
  model: string,
  request: FineTuneRequest,
  metrics: Record<string, number>,
  validation: () => Promise<LabelledData>,
  limits: RunLimits,
  written?: number,
): Promise<PromotionDecision | undefined> {
  if (!request.promote) return undefined;
  const { alias, ifBetter } = request.promote;
  const reason = ifBetter ? `better ${ifBetter}` : 'requested';
  if (!ifBetter) return { alias, move: true, reason };
  const current = await readAlias(store, model, alias);
  if (!current || current.version === written) return { alias, move: true, reason };
  const incumbent = await readVersion(store, model, current.version);
  try {
    const theirs = (await validationMetrics(incumbent.model as LayersModel, incumbent.manifest, await validation(), limits))[ifBetter];
    if (!isBetter(ifBetter, metrics[ifBetter], theirs)) {
      return { alias, move: false, reason: `${ifBetter} ${metrics[ifBetter]} does not beat version ${current.version}'s ${theirs}` };
    }
  } finally {
    incumbent.model.dispose();
  }
  return { alias, move: true, reason };
}

/**
 * What a result may say of a failed alias write: a client error's message or a 503's public one;
 * nothing internal otherwise (ops do not log: the store's own words would go nowhere else, and
 * the alias write is the store's I/O only, so that is what is named).
 */
function publicReason(error: unknown): string {
  if (error instanceof UnavailableError) return error.publicMessage;
  if (error instanceof ServiceError && error.statusCode < 500) return error.message;
  return 'the model store failed to write the alias';
}

/** Carries out the decision for `version` (written by now); a failed alias write is reported, not thrown. */
export async function applyPromotion(store: ObjectStore, model: string, version: number, decision: PromotionDecision | undefined): Promise<Promotion | undefined> {
  if (!decision) return undefined;
  const { alias, move, reason } = decision;
  if (!move) return { alias, moved: false, reason };
  try {
    await setAlias(store, model, alias, version);
    return { alias, moved: true, reason };
  } catch (error) {
    return {
      alias,
      moved: false,
      reason: `${reason}, but the alias could not be moved; version ${version} is written: PUT /v2/models/${model}/aliases/${alias} {"version": ${version}} moves it`,
      error: publicReason(error),
    };
  }
}
