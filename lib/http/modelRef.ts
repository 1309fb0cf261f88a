/** Path parameters -> a validated model reference (names are checked before any key is built). */
import { validateName, validateVersion, type ModelRef } from '../registry/index.js';

export function modelRefFrom(params: Record<string, string>, query: Record<string, string> = {}): ModelRef {
  const alias = params.alias ?? query.alias;
  return {
    name: validateName(params.model),
    version: params.version !== undefined ? validateVersion(params.version) : undefined,
    alias: alias !== undefined ? validateName(alias, 'alias') : undefined,
  };
}

/** The OIP/TF Serving path variants of one route: by default alias, by version, by alias label. */
export function versionedPaths(base: string, suffix: string, options: { labels?: boolean } = {}): string[] {
  const paths = [`${base}${suffix}`, `${base}/versions/{version}${suffix}`];
  if (options.labels) paths.push(`${base}/labels/{alias}${suffix}`);
  return paths;
}
