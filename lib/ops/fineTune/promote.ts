/**
 * Moving an alias to a fine-tuned version. The decision (with ifBetter, the alias's version run on
 * the same validation data) is made before the version is written, so a failure of the model or the
 * backend there fails the job with nothing stored; it is made again, against the alias's version at
 * the time, only if the alias moved meanwhile. Only the alias write comes after the version's:
 * if it fails, the job still succeeds, and its result names the version written and why the alias
 * did not move (never "failed" with no result while a new version exists).
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ServiceError, UnavailableError } from '../../errors.js';
import { readVersion } from '../../loader/readVersion.js';
import { DamagedAliasError, readAlias, readManifest, setAliasIf, type Manifest } from '../../registry/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import { disposeModel } from '../../runtime/tfModel.js';
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

type Verdict = Pick<PromotionDecision, 'move' | 'reason'>;

export interface PromotionDecision {
  alias: string;
  move: boolean;
  reason: string;
  /**
   * With ifBetter: the alias's version the new one was compared with (undefined: no alias yet),
   * and how to compare it with another, should the alias have moved by the time it is written.
   */
  compared?: { version: number | undefined; judge: (incumbent: number | undefined) => Promise<Verdict> };
}

/**
 * How the alias's version answers otherwise than the new one (another output of the model, as a
 * second push with another --output makes; another task; other labels), in words; undefined when
 * alike. Its metrics on this job's labels would measure something else: the alias stays.
 */
function answersApart(mine: Manifest, theirs: Manifest): string | undefined {
  const [ours, their] = [mine.signature.outputs[0].name, theirs.signature.outputs[0].name];
  if (ours !== their) return `answers from output ${their}, this one from ${ours}`;
  if (mine.task !== theirs.task) return `is a ${theirs.task} model, this one a ${mine.task} model`;
  if (JSON.stringify(mine.labels ?? []) !== JSON.stringify(theirs.labels ?? [])) return 'has other labels';
  return undefined;
}

/**
 * Whether the request's alias should move to the new version, whose validation metrics are
 * `metrics` and which answers as `manifest` (its base's, or its own when already written) says.
 * `written`: the version, when a redelivered job finds it already written (an alias already
 * pointing at it was moved by the earlier attempt: not compared with itself).
 */
export async function decidePromotion(
  store: ObjectStore,
  manifest: Manifest,
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
  const model = manifest.name;
  const judge = async (incumbent: number | undefined): Promise<Verdict> => {
    // Nothing to compare with: an alias that does not exist yet (or is damaged, or already points here) is set, and says why.
    if (incumbent === undefined) return { move: true, reason: `alias ${alias} held no version: nothing to compare ${ifBetter} with` };
    if (incumbent === written) return { move: true, reason: `alias ${alias} already points at version ${written}` };
    const apart = answersApart(manifest, await readManifest(store, model, incumbent));
    if (apart) return { move: false, reason: `version ${incumbent} ${apart}: its ${ifBetter} on these labels would not be comparable` };
    const loaded = await readVersion(store, model, incumbent);
    try {
      const theirs = (await validationMetrics(loaded.model as LayersModel, loaded.manifest, await validation(), limits))[ifBetter];
      if (!isBetter(ifBetter, metrics[ifBetter], theirs)) {
        return { move: false, reason: `${ifBetter} ${metrics[ifBetter]} does not beat version ${incumbent}'s ${theirs}` };
      }
    } finally {
      disposeModel(loaded.model);
    }
    return { move: true, reason };
  };
  // A damaged alias file holds no version to compare with: setting the alias writes over it (registry/aliases.ts).
  const version = (
    await readAlias(store, model, alias).catch((error: unknown) => {
      if (error instanceof DamagedAliasError) return undefined;
      throw error;
    })
  )?.version;
  return { alias, ...(await judge(version)), compared: { version, judge } };
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
  const { alias, compared } = decision;
  let { move, reason } = decision;
  if (!move) return { alias, moved: false, reason };
  let against = compared?.version;
  try {
    // ifBetter compares with the version the alias points to when it is replaced: judged again if
    // another promotion or a rollback moved it since the decision (or during a write that lost to one).
    const moved = await setAliasIf(store, model, alias, version, async (current) => {
      if (compared && current?.version !== against) {
        against = current?.version;
        ({ move, reason } = await compared.judge(against));
      }
      return move;
    });
    return { alias, moved: moved !== undefined, reason };
  } catch (error) {
    // The write may have landed with its answer lost (a dropped connection, a 503 after the fact):
    // what the alias says now decides, or the result would tell the client to move it by hand.
    if ((await readAlias(store, model, alias).catch(() => undefined))?.version === version) return { alias, moved: true, reason };
    return {
      alias,
      moved: false,
      reason: `${reason}, but the alias could not be moved; version ${version} is written: PUT /v2/models/${model}/aliases/${alias} {"version": ${version}} moves it`,
      error: publicReason(error),
    };
  }
}
