/** Path parameters (and `?alias=`) -> a validated model reference: names are checked before any key is built. */
import { validateName, validateVersion, type ModelRef } from '../registry/index.js';

export function modelRefFrom(params: Record<string, string>, query: { alias?: string } = {}): ModelRef {
  const alias = params.alias ?? query.alias;
  return {
    name: validateName(params.model),
    version: params.version !== undefined ? validateVersion(params.version) : undefined,
    alias: alias !== undefined ? validateName(alias, 'alias') : undefined,
  };
}
