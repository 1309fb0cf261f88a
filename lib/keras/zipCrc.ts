/**
 * The CRC-32 a zip's central directory records for each entry. fflate's unzipSync inflates without
 * checking it, and Keras writes a `.keras` file's entries stored, not deflated, so a byte changed
 * in its weights (a disk, a copy gone wrong) would be imported as a weight: Python's zipfile, which
 * Keras loads with, refuses such a file ("Bad CRC-32"). Read after unzipSync has parsed the same
 * directory, so the structure is known good; the walk follows fflate's own (its zip64 fields too).
 */
const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;

/** Each entry's recorded CRC-32, in the central directory's order (the order unzipSync's filter sees). */
export function directoryCrcs(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = bytes.length - 22;
  while (view.getUint32(end, true) !== EOCD) end -= 1;
  let count = view.getUint16(end + 8, true);
  let at = view.getUint32(end + 16, true);
  if (end >= 20 && view.getUint32(end - 20, true) === ZIP64_LOCATOR) {
    const zip64 = view.getUint32(end - 12, true);
    if (view.getUint32(zip64, true) === ZIP64_EOCD) {
      count = view.getUint32(zip64 + 32, true);
      at = view.getUint32(zip64 + 48, true);
    }
  }
  const crcs: number[] = [];
  for (let i = 0; i < count; i++) {
    crcs.push(view.getUint32(at + 16, true));
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return crcs;
}
