import { describeAlias, listAliases, listVersions, readManifest } from '../../lib/registry/index.js';
import { listEvaluations } from '../../lib/ops/evaluations.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { checkRefExists, refArgument } from '../refs.js';

/** The full manifest of the version a reference resolves to, minus bulky fields unless asked; by an alias, with its record. */
export async function show(store: ObjectStore, refText: string, full: boolean): Promise<string> {
  const ref = refArgument(refText);
  const resolved = await checkRefExists(store, ref);
  // Shown by its alias: its record, read once, gives the version shown (moved since, the two would disagree).
  const alias = ref.alias === undefined ? undefined : { name: ref.alias, ...(await describeAlias(store, ref.name, ref.alias)) };
  const version = alias?.version ?? resolved;
  const manifest = await readManifest(store, ref.name, version);
  const [versions, aliases, evaluations] = await Promise.all([listVersions(store, ref.name), listAliases(store, ref.name), listEvaluations(store, ref.name, version)]);
  const summary = full
    ? manifest
    : {
        ...manifest,
        background: manifest.background ? `${manifest.background.length} rows` : undefined,
        transforms: summarizeTransforms(manifest.transforms),
      };
  return JSON.stringify({ ...summary, versions, aliases, ...(alias && { alias }), ...evaluations }, null, 2);
}

function summarizeTransforms(transforms: Record<string, unknown>): unknown {
  const input = transforms.input as { kind?: string; vocabulary?: string[] } | undefined;
  if (input?.kind === 'text' && input.vocabulary) return { input: { ...input, vocabulary: `${input.vocabulary.length} words` } };
  return transforms;
}
