/**
 * Graph models with ops whose output shape or execution depends on values (a detector's
 * non-max suppression, `Where`, a loop's Switch/Merge): TF.js runs them only with
 * `executeAsync`, and `predict` throws on them ("...has the dynamic op 'Where'. Please use
 * model.executeAsync()"). Their authors' own code calls `executeAsync`; so does runGraph here.
 */
import type { ModelJson } from '../registry/artifacts.js';

/**
 * The ops TF.js's graph executor refuses to run synchronously: tfjs-converter 4.22,
 * executor/model_analysis.ts (CONTROL_FLOW_OPS, DYNAMIC_SHAPE_OPS, HASH_TABLE_OPS), which it does
 * not export.
 */
const ASYNC_OPS = new Set([
  'Switch',
  'Merge',
  'Enter',
  'Exit',
  'NextIteration',
  'StatelessIf',
  'StatelessWhile',
  'if',
  'While',
  'NonMaxSuppressionV2',
  'NonMaxSuppressionV3',
  'NonMaxSuppressionV5',
  'Where',
  'HashTable',
  'HashTableV2',
  'LookupTableImport',
  'LookupTableImportV2',
  'LookupTableFind',
  'LookupTableFindV2',
  'LookupTableSize',
  'LookupTableSizeV2',
]);

interface NodeDef {
  op?: unknown;
}

function nodesOf(graph: unknown, key: 'node' | 'nodeDef'): NodeDef[] {
  const nodes = (graph as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(nodes) ? (nodes as NodeDef[]) : [];
}

/**
 * The first op of a graph model.json that only `executeAsync` runs, if any. Functions' bodies are
 * looked at too, though a graph calls them through a control-flow op that is already one.
 */
export function dynamicOpIn(modelJson: ModelJson): string | undefined {
  const topology = modelJson.modelTopology as { library?: { function?: unknown[] } } | undefined;
  const functions = Array.isArray(topology?.library?.function) ? topology.library.function : [];
  const nodes = [...nodesOf(topology, 'node'), ...functions.flatMap((f) => nodesOf(f, 'nodeDef'))];
  return nodes.find((n) => typeof n.op === 'string' && ASYNC_OPS.has(n.op))?.op as string | undefined;
}
