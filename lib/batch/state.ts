/** Where a batch run stands, kept in the store between invocations, and its final manifest. */
import { z } from 'zod';

export const checkpointSchema = z.object({
  /** A run through one function: its id (lib/batch/paths.ts runFiles); a sharded run's ranges have none. */
  run: z.string().optional(),
  sourceEtag: z.string(),
  model: z.object({ name: z.string(), version: z.number().int().positive() }),
  /** Byte offset of the next unread row, and the line it is on. */
  offset: z.number().int().min(0),
  /** A sharded run's range ends here (exclusive); else the object's end. */
  end: z.number().int().min(0).optional(),
  line: z.number().int().min(0),
  columns: z.array(z.string()).optional(),
  /** Output parts written so far, one per invocation. */
  parts: z.number().int().min(0),
  rows: z.object({ read: z.number(), scored: z.number(), failed: z.number() }),
  startedAt: z.string(),
  invocations: z.number().int().min(1),
});
export type Checkpoint = z.infer<typeof checkpointSchema>;

export interface BatchManifest {
  status: 'succeeded' | 'failed';
  model?: { name: string; version: number };
  source: { key: string; etag?: string; size?: number };
  rows: { read: number; scored: number; failed: number };
  outputs?: { predictions: string; errors: string };
  error?: string;
  invocations: number;
  durationMs: number;
  startedAt: string;
  finishedAt: string;
}
