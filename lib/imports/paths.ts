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

/** Where an import's outcome is written: next to the uploaded file. */
export const outcomeKey = (key: string) => `${key}.outcome.json`;

/** The import an uploaded key asks for, or undefined for a key the trigger would not match. */
export function parseImportKey(key: string): ImportKey | undefined {
  if (!key.startsWith(IMPORT_PREFIX) || !IMPORT_SUFFIXES.some((s) => key.endsWith(s))) return undefined;
  const [model, ...rest] = key.slice(IMPORT_PREFIX.length).split('/');
  if (!model || rest.length === 0 || rest.join('/') === '') return undefined;
  return { key, model, format: key.endsWith('.zip') ? 'tfjs-zip' : 'keras', outcome: outcomeKey(key), meta: `${key}.meta.json` };
}

/**
 * For a key the trigger matches but that names no model (a file right under imports/, or an empty
 * folder name), what is wrong with it: such an upload gets a failed outcome saying so, not silence.
 */
export function misplacedImport(key: string): string | undefined {
  if (!key.startsWith(IMPORT_PREFIX) || !IMPORT_SUFFIXES.some((s) => key.endsWith(s)) || parseImportKey(key)) return undefined;
  const file = key.split('/').pop();
  return `${key} is not in a model's folder: put it at ${IMPORT_PREFIX}{model}/${file}, where {model} is the name of the model it becomes a version of`;
}
