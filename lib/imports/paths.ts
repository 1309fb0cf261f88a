/**
 * Where imports live in the bucket: a model file put at imports/{model}/{file} (`.keras`, `.h5`, or
 * a `.zip` of a TF.js model folder) becomes a new version of {model}; the outcome goes next to it
 * at {file}.outcome.json, and optional manifest fields (labels, task, preprocessing: what
 * `modelctl push --meta` takes) may be put first at {file}.meta.json. Neither ends in a suffix the
 * trigger matches, so an import never triggers itself.
 */
export const IMPORT_PREFIX = 'imports/';
export const IMPORT_SUFFIXES = ['.keras', '.h5', '.zip'] as const;

export interface ImportKey {
  key: string;
  model: string;
  format: 'keras' | 'tfjs-zip';
  outcome: string;
  meta: string;
}

/** The import an uploaded key asks for, or undefined for a key the trigger would not match. */
export function parseImportKey(key: string): ImportKey | undefined {
  if (!key.startsWith(IMPORT_PREFIX) || !IMPORT_SUFFIXES.some((s) => key.endsWith(s))) return undefined;
  const [model, ...rest] = key.slice(IMPORT_PREFIX.length).split('/');
  if (!model || rest.length === 0 || rest.join('/') === '') return undefined;
  return { key, model, format: key.endsWith('.zip') ? 'tfjs-zip' : 'keras', outcome: `${key}.outcome.json`, meta: `${key}.meta.json` };
}
