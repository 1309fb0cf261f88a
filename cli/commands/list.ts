import { NotFoundError } from '../../lib/errors.js';
import { listAliases, listModels, listVersions, readManifest } from '../../lib/registry/index.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { formatMetrics, table } from '../format.js';
import { LIST_HINT, modelArgument } from '../refs.js';

/** One row per version of each model (or of one model): aliases and held-out metrics. */
export async function list(store: ObjectStore, model: string | undefined, json: boolean): Promise<string> {
  const names = model ? [modelArgument(model)] : await listModels(store);
  const rows = [];
  for (const name of names) {
    const [versions, aliases] = await Promise.all([listVersions(store, name), listAliases(store, name)]);
    // An empty table would read as "a model without versions": as show does, say there is no such model.
    if (model && versions.length === 0) throw new NotFoundError(`no model named ${model} (${LIST_HINT})`);
    for (const version of versions) {
      const manifest = await readManifest(store, name, version);
      const pointing = Object.entries(aliases)
        .filter(([, v]) => v === version)
        .map(([a]) => a);
      if (version === versions[versions.length - 1]) pointing.push('latest');
      rows.push({ model: name, version, task: manifest.task, aliases: pointing.join(','), metrics: manifest.metrics, created: manifest.createdAt });
    }
  }
  if (json) return JSON.stringify(rows, null, 2);
  return table(rows.map((r) => ({ ...r, metrics: formatMetrics(r.metrics), created: r.created.slice(0, 19) })));
}
