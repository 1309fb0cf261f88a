/**
 * The service's log lines written during each test of the file that calls it: Powertools writes
 * warnings and errors to stderr and the rest to stdout, both caught here at INFO, and silenced again
 * after each test.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import { logger } from '../../lib/observability.js';

export interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

export function captureLogs(): () => LogLine[] {
  let lines: string[] = [];
  beforeEach(() => {
    lines = [];
    logger.setLogLevel('INFO');
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk) => {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        return true;
      });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
    logger.setLogLevel('SILENT');
  });
  return () => lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
}
