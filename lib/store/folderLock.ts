/**
 * A lock file beside an object, for the folder store's replace-only writes (ifMatch): created
 * exclusively (O_EXCL), so one writer at a time checks the object's ETag and renames over it. A
 * holder keeps it for a stat and a rename, so others wait for it rather than fail at once. One left
 * by a killed process is taken over once STALE_MS old: two writers finding it stale at the same
 * moment could both take it, a risk left to a crash during a rename of the same key.
 */
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError } from '../errors.js';

const STALE_MS = 10_000;
const WAIT_MS = 5_000;

/** Takes the lock `file` for `key` (its folder must exist); resolves to its release. */
export async function lockFile(file: string, key: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await fs.writeFile(file, '', { flag: 'wx' });
      return () => fs.rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const held = await fs.stat(file).catch(() => undefined);
    if (held && Date.now() - held.mtimeMs > STALE_MS) {
      await fs.rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new ConflictError(`another write of ${key} is in progress`);
    await sleep(1 + Math.random() * 4);
  }
}
