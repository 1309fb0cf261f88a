/**
 * A client's `Idempotency-Key` on a job's submission (the IETF draft "The Idempotency-Key HTTP
 * Header Field", as Stripe and AWS's client tokens have it): the job's id is made from it, so a
 * retry whose first answer was lost finds the job it made instead of starting another (a second
 * fine-tune trains a second version; a second evaluation saves a second one).
 */
import { createHash } from 'node:crypto';
import { BadRequestError, quoted } from '../errors.js';
import type { JobKind } from './records.js';

/** Printable ASCII, as the draft's examples and Stripe's keys are: a UUID, a hash, a request id. */
const KEY = /^[\x20-\x7e]{1,255}$/;

/** The header's value, checked; undefined when it is absent. */
export function idempotencyKeyOf(headers: Record<string, string | undefined>): string | undefined {
  const key = headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (!KEY.test(key) || key.trim() === '') throw new BadRequestError(`Idempotency-Key ${quoted(key)}: expected 1 to 255 printable ASCII characters (a UUID, say)`);
  return key;
}

/**
 * The id of the job a key submits for this kind of job of this model: a UUID (version 8, RFC 9562's
 * for ids made by one's own rule) from the key's SHA-256, so the same key names the same job
 * whichever function instance receives its retry.
 */
export function jobIdFor(kind: JobKind, model: string, key: string): string {
  const hex = createHash('sha256').update(`${kind}\0${model}\0${key}`).digest('hex').slice(0, 32).split('');
  hex[12] = '8';
  hex[16] = ((Number.parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
