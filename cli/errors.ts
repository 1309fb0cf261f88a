/**
 * How modelctl ends on an error. A mistake in the command line (an option value, a file that is not
 * there) is a usage error: one line, exit 2. A request the service refuses, or a failure of the
 * store, AWS or the network, is an operational error: one line, exit 1. Anything else is a bug in
 * modelctl: its stack, exit 1. --verbose prints the stack of every error.
 */
import { CommanderError } from 'commander';
import type { z } from 'zod';
import { ConfigError } from '../lib/config.js';
import { ServiceError } from '../lib/errors.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** The command line asks for something that cannot be: its message names the option or file. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Option names as the user typed them: topK -> --top-k, unless the command names it otherwise. */
export const flagOf = (key: PropertyKey, flags: Record<string, string>) => flags[String(key)] ?? `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The options, checked by the operation's own schema; each complaint names the option it is about. */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, flags: Record<string, string> = {}): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new UsageError(
    parsed.error.issues
      .map(({ path: [key, ...rest], message }) => (key === undefined ? message : `${flagOf(key, flags)}${rest.length ? ` ${rest.join('.')}` : ''}: ${message}`))
      .join('; '),
  );
}

/** An error the environment raised: an AWS service's answer, missing credentials, a failed system call (DNS, connection, permission). */
function environmentMessage(error: Error): string | undefined {
  const e = error as Error & { $fault?: unknown; $metadata?: unknown; BucketName?: unknown; syscall?: unknown; code?: unknown; storeCall?: unknown };
  // The store call it came from (lib/store/s3.ts), e.g. "PutObject s3://models/iris/versions/5/manifest.json";
  // a bucket that is not there is named alone, which says all.
  const call = typeof e.storeCall === 'string' ? ` (${e.storeCall})` : '';
  if (typeof e.syscall === 'string' && typeof e.code === 'string') return `${e.message}${call}`; // e.g. getaddrinfo ENOTFOUND <host>
  if (e.$fault !== undefined) return `AWS answered ${e.name}: ${e.message}${typeof e.BucketName === 'string' ? ` (bucket ${e.BucketName})` : call}`;
  if (e.$metadata !== undefined) return `AWS request failed: ${e.name}: ${e.message}${call}`;
  if (e.name === 'CredentialsProviderError') return `AWS credentials: ${e.message}`;
  if (call) return `the store failed: ${e.message}${call}`;
  return undefined;
}

/**
 * A command that wrote something and then failed: what is done stays said beside what failed and
 * how to finish (a push whose version is written but whose alias did not move would otherwise read
 * as a failed push, and be pushed again as a duplicate version).
 */
export class PartlyDoneError extends Error {
  override name = 'PartlyDoneError';
  constructor(
    readonly done: string,
    readonly failed: string,
    readonly next: string,
    options: { cause: unknown },
  ) {
    super(`${done}, but ${failed}`, options);
  }
}

/** Why an operation failed, in the words failure() gives it alone. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error instanceof ServiceError ? error.message : (environmentMessage(error) ?? error.message);
}

/** What to print (nothing: commander has printed it) and the exit code. */
export function failure(error: unknown, verbose: boolean): { message?: string; exitCode: number } {
  if (error instanceof CommanderError) return { exitCode: error.exitCode === 0 ? 0 : EXIT_USAGE };
  if (!(error instanceof Error)) return { message: String(error), exitCode: EXIT_FAILURE };
  const shown = (message: string) => (verbose ? (error.stack ?? message) : message);
  if (error instanceof UsageError || error instanceof ConfigError) return { message: shown(error.message), exitCode: EXIT_USAGE };
  if (error instanceof PartlyDoneError) return { message: shown(`${error.done}\n${error.failed}: ${reasonOf(error.cause)}\n${error.next}`), exitCode: EXIT_FAILURE };
  // Our own errors say what happened; for an operator at a terminal that holds for a 5xx too.
  if (error instanceof ServiceError) return { message: shown(error.message), exitCode: EXIT_FAILURE };
  const environment = environmentMessage(error);
  if (environment) return { message: shown(environment), exitCode: EXIT_FAILURE };
  return { message: error.stack ?? error.message, exitCode: EXIT_FAILURE };
}
