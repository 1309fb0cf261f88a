/**
 * How to join objects into one on S3 without downloading what need not be: a multipart upload in
 * which each source of at least 5 MiB is copied server-side (UploadPartCopy), and smaller ones are
 * gathered into uploaded parts, because every part but the last must be at least 5 MiB. A small
 * run followed by a large source takes its first bytes to reach 5 MiB (a ranged read), and the rest
 * of that source is still copied.
 */
export const MIN_PART_BYTES = 5 * 2 ** 20;

export type ConcatStep = { kind: 'copy'; source: number; start: number; end: number } | { kind: 'upload'; pieces: { source: number; start: number; end: number }[] };

/** The parts, in order, for sources of these sizes. Pure, so that the rules are tested without S3. */
export function concatSteps(sizes: number[]): ConcatStep[] {
  const steps: ConcatStep[] = [];
  let pending: { source: number; start: number; end: number }[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length > 0) steps.push({ kind: 'upload', pieces: pending });
    pending = [];
    pendingBytes = 0;
  };
  sizes.forEach((size, source) => {
    let start = 0;
    if (pendingBytes > 0 && pendingBytes < MIN_PART_BYTES && size - (MIN_PART_BYTES - pendingBytes) >= MIN_PART_BYTES) {
      // Top the small run up to 5 MiB from this source, then copy the rest of it.
      const take = MIN_PART_BYTES - pendingBytes;
      pending.push({ source, start: 0, end: take });
      flush();
      start = take;
    }
    if (pendingBytes === 0 && size - start >= MIN_PART_BYTES) {
      steps.push({ kind: 'copy', source, start, end: size });
      return;
    }
    if (size - start > 0) {
      pending.push({ source, start, end: size });
      pendingBytes += size - start;
    }
    if (pendingBytes >= MIN_PART_BYTES) flush();
  });
  flush();
  return steps;
}
