/**
 * Graph outputs by their signature keys, as TF Serving names them: human-models' gear answers
 * race_output, gender_output and age_output, which TF.js calls by their nodes, Identity_2,
 * Identity_1 and Identity, names that say nothing of which is which. The node stays on the spec
 * (`node`): what versions pushed before went by, which a request may still name.
 */
import type { TensorSpec } from '../registry/manifest.js';

interface TensorInfoProto {
  name?: unknown;
}

/**
 * Signature key by node, for the outputs whose key is not just their tensor's name: a converter
 * without a SavedModel signature keys them 'Identity:0', which says no more than the node.
 */
function keysByNode(signature: unknown): Map<string, string> {
  const outputs = ((signature as { outputs?: unknown } | undefined)?.outputs ?? {}) as Record<string, TensorInfoProto>;
  const keys = new Map<string, string>();
  for (const [key, { name }] of Object.entries(outputs)) {
    if (typeof name !== 'string') continue;
    const node = name.replace(/:0$/, '');
    if (key.replace(/:0$/, '') !== node) keys.set(node, key);
  }
  return keys;
}

/**
 * `outputs` named by their keys in model.json's `signature` where it has them, each keeping its
 * node; unchanged when nothing is keyed, or when a key would name two outputs alike.
 */
export function namedBySignatureKeys(outputs: TensorSpec[], signature: unknown): TensorSpec[] {
  const keys = keysByNode(signature);
  if (keys.size === 0) return outputs;
  const named = outputs.map((spec) => {
    const key = spec.node === undefined ? keys.get(spec.name) : undefined;
    return key === undefined ? spec : { ...spec, name: key, node: spec.name };
  });
  return new Set(named.map((s) => s.name)).size === named.length ? named : outputs;
}
