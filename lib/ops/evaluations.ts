/** Saved evaluations of a version, newest first, as metadata and `modelctl show` list them. */
import { keys } from '../registry/index.js';
import { getJson, listAll, type ObjectStore } from '../store/index.js';

export interface EvaluationSummary {
  id: string;
  source: string;
  count: number;
  metrics: Record<string, number>;
  createdAt: string;
}

export async function listEvaluations(store: ObjectStore, model: string, version: number): Promise<EvaluationSummary[]> {
  const out: EvaluationSummary[] = [];
  for await (const object of listAll(store, keys.evaluationsPrefix(model, version))) {
    const e = await getJson<EvaluationSummary>(store, object.key);
    out.push({ id: e.id, source: e.source, count: e.count, metrics: e.metrics, createdAt: e.createdAt });
  }
  // ISO 8601 times in UTC sort as plain strings. localeCompare would load ICU's collation data into
  // the metadata function the first time two evaluations are listed (2.1 MB more resident: the
  // soak's step at its first listing, bench section 11) to compare digits.
  return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}
