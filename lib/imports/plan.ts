/**
 * What an import will take in memory, planned from the sizes the upload declares before any of it
 * is inflated: a 1 MB .keras whose weights inflate to 1000 MiB peaked at 2172 MB resident before
 * its content was even found wrong, past a 2048 MB function's memory, so Lambda killed it with no
 * outcome and every retry died the same way. The zip's central directory says what each entry
 * inflates to (unzipSync's filter reads it without inflating), and inflation never goes past what
 * it says (fflate writes into a buffer of the declared size), so the plan bounds the work.
 */
import { unzipSync } from 'fflate';
import { size } from '../bytes.js';
import { BadRequestError } from '../errors.js';
import type { MemoryBudget } from '../runtime/memory.js';
import type { ImportKey } from './paths.js';

/**
 * Peak resident memory above the idle function, per byte of the model's content, measured
 * (modelImport run by hand on random-weight models): a .keras of 50 and 100 MB of weights
 * peaked 380 and 671 MB above a small import's 205 MB, 6.7 to 7.6 times its content (the inflated
 * HDF5 file; its datasets read out of it; the float32 weights; TF.js's tensors; the model saved
 * back; its shard; the model loaded again to read its signature); a TF.js zip of 50 MB of weights
 * 270 MB above, 5.4 times (its shards, concatenated, loaded, the version written). A margin above each.
 */
const COPIES: Record<ImportKey['format'], number> = { keras: 8, 'tfjs-zip': 6 };

const ZIP = [0x50, 0x4b, 0x03, 0x04];

/** What the upload's content takes once inflated: the sum of a zip's declared entry sizes, or the file itself. */
export function contentBytes(bytes: Uint8Array, what: string): number {
  if (!ZIP.every((b, i) => bytes[i] === b)) return bytes.byteLength;
  let total = 0;
  try {
    unzipSync(bytes, {
      filter: (entry) => {
        total += entry.originalSize;
        return false;
      },
    });
  } catch (error) {
    throw new BadRequestError(`${what} is not a readable zip (damaged or truncated?): ${(error as Error).message}`);
  }
  return total;
}

/**
 * Refuses, with the figures, an import that would not fit the function's memory: `content` is what
 * the upload inflates to (before it is downloaded: at least the upload's own size).
 */
export function checkImportFits(target: ImportKey, upload: number, content: number, budget: MemoryBudget): void {
  const needed = upload + content * COPIES[target.format];
  if (needed <= budget.availableFor(needed)) return;
  const inflates = content === upload ? `is ${size(upload)}` : `is ${size(upload)} and inflates to ${size(content)} (its zip directory says so)`;
  throw new BadRequestError(
    `${target.key} ${inflates}; importing it needs about ${size(needed)} (${COPIES[target.format]} working copies of its content), more than ${budget.describe()}`,
  );
}
