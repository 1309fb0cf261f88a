import { listAliases, listVersions, readManifest } from '../../lib/registry/index.js';
import { listEvaluations } from '../../lib/ops/evaluations.js';
import type { ObjectStore } from '../../lib/store/index.js';
import { checkRefExists, refArgument } from '../refs.js';

/** The full manifest of the version a reference resolves to, minus bulky fields unless asked. */
export async function show(store: ObjectStore, refText: string, full: boolean): Promise<string> {
  const ref = refArgument(refText);
  const version = await checkRefExists(store, ref);
  const manifest = await readManifest(store, ref.name, version);
  const [versions, aliases, evaluations] = await Promise.all([listVersions(store, ref.name), listAliases(store, ref.name), listEvaluations(store, ref.name, version)]);
  const summary = full
    ? manifest
    : {
        ...manifest,
        background: manifest.background ? `${manifest.background.length} rows` : undefined,
        transforms: summarizeTransforms(manifest.transforms),
      };
  return JSON.stringify({ ...summary, versions, aliases, ...evaluations }, null, 2);
}

function summarizeTransforms(transforms: Record<string, unknown>): unknown {
  const input = transforms.input as { kind?: string; vocabulary?: string[] } | undefined;
  if (input?.kind === 'text' && input.vocabulary) return { input: { ...input, vocabulary: `${input.vocabulary.length} words` } };
  return transforms;
}
