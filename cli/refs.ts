/**
 * The model, version, alias and model-reference arguments of modelctl's commands. Their form is
 * checked by the registry's own rules before anything is read: a malformed one is a mistake in the
 * command line (one line naming the expected form, exit 2). One well formed that the store does not
 * hold is a refusal (exit 1) that says what the model has instead (its versions and aliases), or,
 * when the store holds no such model, how to list the models it does hold.
 */
import { BadRequestError, NotFoundError } from '../lib/errors.js';
import {
  checkAliasSettable,
  listAliases,
  listVersions,
  NoSuchModelError,
  parseModelRef,
  resolveVersion,
  validateName,
  validateVersion,
  validateWritableAlias,
  type ModelRef,
} from '../lib/registry/index.js';
import type { ObjectStore } from '../lib/store/index.js';
import { UsageError } from './errors.js';

/** The registry's refusal of a value's form, as the usage mistake it is on a command line. */
const asUsage = (error: unknown): never => {
  throw error instanceof BadRequestError ? new UsageError(error.message) : error;
};

function inForm<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    return asUsage(error);
  }
}

export const modelArgument = (text: string): string => inForm(() => validateName(text));
export const versionArgument = (text: string): number => inForm(() => validateVersion(text));
/** An alias to move (promote, rollback): any valid name but the implicit `latest`. */
export const aliasArgument = (text: string): string => inForm(() => validateWritableAlias(text));
/** name, name:version or name@alias. */
export const refArgument = (text: string): ModelRef => inForm(() => parseModelRef(text));

/** The alias a push sets: refused in form (exit 2) when it could not be set, as a new alias that is a number. */
export const aliasSettable = (store: ObjectStore, model: string, alias: string): Promise<void> => checkAliasSettable(store, model, alias).catch(asUsage);

export const LIST_HINT = 'modelctl list shows the models this store holds';

/** What the store holds of `model`, for a refusal: its versions and aliases, or how to list the models. */
async function whatExists(store: ObjectStore, model: string, refusal: NotFoundError): Promise<string> {
  const versions = await listVersions(store, model);
  // A refusal that already says there is no such model needs only the hint.
  if (versions.length === 0) return refusal instanceof NoSuchModelError ? LIST_HINT : `the store has no model ${model}; ${LIST_HINT}`;
  const aliases = Object.entries(await listAliases(store, model)).map(([alias, version]) => `${alias} -> ${version}`);
  return `${model} has version${versions.length > 1 ? 's' : ''} ${versions.join(', ')}${aliases.length ? `, aliases ${aliases.join(', ')}` : ', no aliases'}`;
}

/** `work`, whose "no such model, version or alias" refusal also says what `model` does have. */
export async function namingWhatExists<T>(store: ObjectStore, model: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new NotFoundError(`${error.message} (${await whatExists(store, model, error)})`, { cause: error });
  }
}

/** Checks that `ref` names a version the store holds (the refusal says what it holds). */
export async function checkRefExists(store: ObjectStore, ref: ModelRef): Promise<number> {
  return namingWhatExists(store, ref.name, async () => (await resolveVersion(store, ref)).version);
}
