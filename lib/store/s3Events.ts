/** The objects an S3 notification says were created. */
import type { S3Event } from 'aws-lambda';

export function createdObjects(event: S3Event): { bucket: string; key: string }[] {
  return (
    (event.Records ?? [])
      .filter((r) => r.eventName?.startsWith('ObjectCreated'))
      // S3 event keys are URL-encoded, with '+' for spaces.
      .map((r) => ({ bucket: r.s3.bucket.name, key: decodeURIComponent(r.s3.object.key.replace(/\+/g, ' ')) }))
  );
}
