/**
 * Model and alias names become object keys, so they are validated before any key is built:
 * a name like `../x` or `a/b` must never reach the store.
 */
import { BadRequestError, quoted } from '../errors.js';

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** `latest` is implicit (the highest committed version): it can be read, never written. */
export const LATEST = 'latest';
/** Served when a request names neither a version nor an alias, if it exists. */
export const DEFAULT_ALIAS = 'production';

export function isValidName(value: string): boolean {
  return NAME_PATTERN.test(value) && !value.includes('..');
}

export function validateName(value: string, what: 'model' | 'alias' = 'model'): string {
  if (!isValidName(value)) {
    throw new BadRequestError(`invalid ${what} name ${quoted(value)}: expected ^[a-z0-9][a-z0-9._-]{0,63}$ without '..'`);
  }
  return value;
}

/** A name an alias can be set to: any valid name but the implicit `latest`. Throws a 400 otherwise. */
export function validateWritableAlias(value: string): string {
  validateName(value, 'alias');
  if (value === LATEST) throw new BadRequestError(`alias ${LATEST} is implicit (the highest version) and cannot be set or removed`);
  return value;
}

/**
 * A name a new alias may take: a writable one that is not a number (iris@2 would be another version
 * than iris:2 and /versions/2, a mix-up waiting for its reader). An alias stored before this rule
 * is moved and rolled back as any other.
 */
export function validateNewAlias(value: string): string {
  validateWritableAlias(value);
  if (/^\d+$/.test(value)) throw new BadRequestError(`alias ${quoted(value)} is a number, which reads as a version: give an alias a name with a letter (production, v${value})`);
  return value;
}

export function validateVersion(value: string | number): number {
  const n = typeof value === 'number' ? value : /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1) {
    throw new BadRequestError(`invalid version ${quoted(value)}: expected an integer from 1`);
  }
  return n;
}

/** What a caller asked for: a version, an alias, or neither (the default). */
export interface ModelRef {
  name: string;
  version?: number;
  alias?: string;
}

/** Parses `iris`, `iris:3` or `iris@production` (the CLI and batch-scoring key syntax). */
export function parseModelRef(text: string): ModelRef {
  const match = /^([^:@]+)(?::([^:@]+)|@([^:@]+))?$/.exec(text);
  if (!match) throw new BadRequestError(`invalid model reference ${quoted(text)}: use name, name:version or name@alias`);
  const [, name, version, alias] = match;
  return {
    name: validateName(name),
    version: version === undefined ? undefined : validateVersion(version),
    alias: alias === undefined ? undefined : validateName(alias, 'alias'),
  };
}

export function formatModelRef(ref: ModelRef): string {
  if (ref.version !== undefined) return `${ref.name}:${ref.version}`;
  if (ref.alias !== undefined) return `${ref.name}@${ref.alias}`;
  return ref.name;
}
