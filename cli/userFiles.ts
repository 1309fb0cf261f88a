/**
 * Files named on the command line. One that is not there is the user's mistake: it is reported as
 * a usage error naming the option that gave it, not as a system error with a stack.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './errors.js';

function usageError(option: string, file: string, error: unknown, writing: boolean): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOENT: writing ? `no folder ${path.dirname(path.resolve(file))}` : 'no such file',
    EISDIR: 'is a folder, not a file',
    ENOTDIR: 'a part of the path is not a folder',
    EACCES: 'permission denied',
  };
  return code && code in why ? new UsageError(`${option} ${file}: ${why[code]}`, { cause: error }) : error;
}

export async function readOptionFile(option: string, file: string): Promise<Buffer>;
export async function readOptionFile(option: string, file: string, encoding: 'utf8'): Promise<string>;
export async function readOptionFile(option: string, file: string, encoding?: 'utf8'): Promise<Buffer | string> {
  try {
    return await readFile(file, encoding);
  } catch (error) {
    throw usageError(option, file, error, false);
  }
}

/** Before a long run: the folder the output goes to exists, so the run's result is not lost at the end. */
export async function checkOutputFolder(option: string, file: string): Promise<void> {
  const folder = await stat(path.dirname(path.resolve(file))).catch(() => undefined);
  if (!folder?.isDirectory()) throw new UsageError(`${option} ${file}: no folder ${path.dirname(path.resolve(file))}`);
}

export async function writeOptionFile(option: string, file: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFile(file, data);
  } catch (error) {
    throw usageError(option, file, error, true);
  }
}
