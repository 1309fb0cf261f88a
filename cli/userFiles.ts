/**
 * Files named on the command line. One that is not there is the user's mistake: it is reported as
 * a usage error naming the option that gave it, not as a system error with a stack.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './errors.js';

/** option: the flag that named the file, or undefined for a command's argument (the file alone names it). */
function usageError(option: string | undefined, file: string, error: unknown, writing: boolean): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOENT: writing ? `no folder ${path.dirname(path.resolve(file))}` : 'no such file',
    EISDIR: 'is a folder, not a file',
    ENOTDIR: 'a part of the path is not a folder',
    EACCES: 'permission denied',
  };
  return code && code in why ? new UsageError(`${option ? `${option} ` : ''}${file}: ${why[code]}`, { cause: error }) : error;
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

/**
 * Before a run: a file that a store or a worker reads later is there, so its absence is named here
 * as the user's mistake, not later in the store's words ("no object x in file:///dir", exit 1).
 */
export async function checkInputFile(option: string | undefined, file: string): Promise<void> {
  const found = await stat(file).catch((error: unknown) => {
    throw usageError(option, file, error, false);
  });
  if (found.isDirectory()) throw new UsageError(`${option ? `${option} ` : ''}${file}: is a folder, not a file`);
}

/** Before a long run: the folder the output goes to exists, so the run's result is not lost at the end. */
export async function checkOutputFolder(option: string, file: string): Promise<void> {
  const folder = await stat(path.dirname(path.resolve(file))).catch(() => undefined);
  if (!folder?.isDirectory()) throw new UsageError(`${option} ${file}: no folder ${path.dirname(path.resolve(file))}`);
}

/**
 * Before a long run: the folder the outputs go to is one, or can be made inside the nearest folder
 * that is there, and may be written. Else the run started its workers and then failed in the
 * system's words about a temporary file of its own (ENOTDIR ... plan.json.{uuid}.tmp-upload, exit 1).
 * Whether a folder can be made is asked by making one (and removing it): access(W_OK) says yes to
 * root everywhere, and where the system refuses a new folder with ENOENT (/proc) Node 20's
 * recursive mkdir, which the run's writes use, loops for ever instead of failing.
 */
export async function checkOutputDir(option: string, folder: string): Promise<void> {
  const wanted = path.resolve(folder);
  for (let at = wanted; ; at = path.dirname(at)) {
    const found = await stat(at).catch(() => undefined);
    if (!found) continue; // the root is always there
    if (!found.isDirectory()) throw new UsageError(`${option} ${folder}: ${at === wanted ? '' : `${at} `}is a file, not a folder`);
    const probe = path.join(at, `.modelctl-probe-${randomUUID()}`);
    await mkdir(probe).catch((error: NodeJS.ErrnoException) => {
      const why = error.code === 'EACCES' ? 'permission denied' : (error.code ?? error.message);
      throw new UsageError(`${option} ${folder}: no folder can be made in ${at} (${why})`, { cause: error });
    });
    return rmdir(probe);
  }
}

export async function writeOptionFile(option: string, file: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFile(file, data);
  } catch (error) {
    throw usageError(option, file, error, true);
  }
}
