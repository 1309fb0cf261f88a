/**
 * Turns the handler's Powertools logging and metrics on for one measurement (the bench runs with
 * them off), swallowing what they print: the cost measured is building and serialising the log
 * line and the EMF metrics blob, not the terminal. Lambda ships both to CloudWatch via stdout.
 */
import { logger, metrics } from '../lib/observability.js';

export async function withObservabilityOn<T>(fn: () => Promise<T>): Promise<{ result: T; lines: number }> {
  const level = logger.getLevelName();
  const disabled = (metrics as unknown as { disabled: boolean }).disabled;
  const write = process.stdout.write;
  let lines = 0;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines += String(chunk).split('\n').length - 1;
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  logger.setLogLevel('INFO');
  (metrics as unknown as { disabled: boolean }).disabled = false;
  try {
    const result = await fn();
    return { result, lines };
  } finally {
    process.stdout.write = write;
    logger.setLogLevel(level);
    (metrics as unknown as { disabled: boolean }).disabled = disabled;
  }
}
