/**
 * The objects an S3 notification says were created. The batch function is invoked by S3 and by
 * itself; anyone else with invoke rights can send anything, so a record without a bucket and key
 * in text, or whose key is not valid URL-encoding, is left out (and named in the log) rather than
 * ending the event with a TypeError that Lambda would retry twice.
 */
import type { S3Event } from 'aws-lambda';

export function createdObjects(event: S3Event, skip: (why: string) => void): { bucket: string; key: string }[] {
  const list: unknown = (event as { Records?: unknown } | null)?.Records;
  const records: unknown[] = Array.isArray(list) ? list : [];
  if (!Array.isArray(list)) skip('an event with no Records list');
  const created: { bucket: string; key: string }[] = [];
  for (const [i, record] of records.entries()) {
    const r = record as { eventName?: unknown; s3?: { bucket?: { name?: unknown }; object?: { key?: unknown } } } | null;
    if (typeof r?.eventName !== 'string' || !r.eventName.startsWith('ObjectCreated')) continue;
    const bucket = r.s3?.bucket?.name;
    const key = r.s3?.object?.key;
    if (typeof bucket !== 'string' || typeof key !== 'string') {
      skip(`Records[${i}]: no s3.bucket.name and s3.object.key in text`);
      continue;
    }
    try {
      // S3 event keys are URL-encoded, with '+' for spaces.
      created.push({ bucket, key: decodeURIComponent(key.replace(/\+/g, ' ')) });
    } catch {
      skip(`Records[${i}]: s3.object.key is not URL-encoded text`);
    }
  }
  return created;
}
