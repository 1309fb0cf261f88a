/** Saved evaluations of a version, newest first, as metadata and `modelctl show` list them. */
import { IntegrityError } from '../errors.js';
import { keys } from '../registry/index.js';
import { getJson, listAll, type ObjectStore } from '../store/index.js';

interface EvaluationSummary {
  id: string;
  source: string;
  count: number;
  metrics: Record<string, number>;
  createdAt: string;
}

/**
 * How many saved evaluations are read and listed: each is a GET, and a version evaluated every hour
 * would have every metadata request read thousands of objects (a soak's store of 728 made each
 * request of iris's metadata read them all). Saving is create-only, so an object's time in the
 * listing is its evaluation's, and the newest are found without reading the others.
 */
export const LISTED_EVALUATIONS = 20;

export interface EvaluationList {
  /** The newest, at most LISTED_EVALUATIONS, newest first. */
  evaluations: EvaluationSummary[];
  /** How many the version has. */
  evaluationCount: number;
}

export async function listEvaluations(store: ObjectStore, model: string, version: number): Promise<EvaluationList> {
  const objects = [];
  for await (const object of listAll(store, keys.evaluationsPrefix(model, version))) objects.push(object);
  const newest = objects.sort((a, b) => (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0)).slice(0, LISTED_EVALUATIONS);
  // A damaged evaluation file (not JSON) is left out: one bad file must not turn the model's
  // metadata into a store outage (served stale for as long as it is there).
  const read = await Promise.all(
    newest.map(async (object) => {
      const e = await getJson<EvaluationSummary>(store, object.key).catch((error: unknown) => {
        if (error instanceof IntegrityError) return undefined;
        throw error;
      });
      // JSON of another kind (null, a number) is no evaluation either.
      if (typeof e !== 'object' || e === null) return undefined;
      return { id: e.id, source: e.source, count: e.count, metrics: e.metrics, createdAt: e.createdAt };
    }),
  );
  const evaluations = read.filter((e) => e !== undefined);
  // ISO 8601 times in UTC sort as plain strings. localeCompare would load ICU's collation data into
  // the metadata function the first time two evaluations are listed (2.1 MB more resident: the
  // soak's step at its first listing, bench section 11) to compare digits.
  evaluations.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  return { evaluations, evaluationCount: objects.length };
}
