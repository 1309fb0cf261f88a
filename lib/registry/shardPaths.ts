/**
 * What a model's weight shards may be called. Each is written at its path inside the version's
 * folder, so the path must stay there on every store (versions/2/../1/w.bin replaced version 1's
 * shard through s3rver, whose request URL was normalized; a folder store threw on it after the
 * version's number was claimed), must not be a name the registry writes there itself (keys.ts
 * VERSION_OWN_NAMES: a shard named manifest.json was written before the commit marker, in its
 * place), and each must be one file (no path twice, none the folder of another). Checked before a
 * version's number is claimed, so a refused push writes nothing.
 */
import { BadRequestError } from '../errors.js';
import { VERSION_OWN_NAMES } from './keys.js';

const OWN_NAMES: ReadonlySet<string> = new Set(Object.values(VERSION_OWN_NAMES));

const SHAPE = 'a weight file is named by a plain relative path inside the model\'s folder (no ".." segment, no empty one, no backslash)';
const { modelJson, manifest, evaluations } = VERSION_OWN_NAMES;
const OWN = `the registry writes that name in every version's folder (${modelJson}, ${manifest}, ${evaluations}/): rename the file and its path in weightsManifest`;

/**
 * The path as a store resolves it: a "." segment names the folder it is in. TF.js's browser download
 * (model.save('downloads://m')) writes its shard as ./m.weights.bin, so such a path is taken, and
 * what it names is what the checks below judge (./manifest.json is the commit marker's place too).
 */
function resolved(path: string): string {
  return path
    .split('/')
    .filter((segment) => segment !== '.')
    .join('/');
}

/** What is wrong with `path` as a shard's path in a version's folder, if anything. */
function pathProblem(path: string): string | undefined {
  if (path === '') return `is empty: ${SHAPE}`;
  if (path.startsWith('/')) return `is absolute: ${SHAPE}`;
  if (path.includes('\\')) return `has a backslash: ${SHAPE}`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(path)) return `has a control character: ${SHAPE}`;
  if (path.split('/').includes('')) return `has an empty segment (// or a trailing /): ${SHAPE}`;
  const segments = resolved(path).split('/');
  if (segments.includes('..')) return `has a ".." segment: ${SHAPE}`;
  if (segments[0] === '') return `names the model's folder itself: ${SHAPE}`;
  if (OWN_NAMES.has(segments[0])) return `is the registry's own: ${OWN}`;
  return undefined;
}

/** Refuses, with a 400 naming it, a shard path of the weights manifest that a version cannot hold. */
export function checkShardPaths(paths: string[]): void {
  const seen = new Set<string>();
  for (const path of paths) {
    const problem = pathProblem(path);
    if (problem) throw new BadRequestError(`model.json: weight path ${JSON.stringify(path)} ${problem}`);
    if (seen.has(resolved(path))) throw new BadRequestError(`model.json: weight path ${JSON.stringify(path)} is named twice in weightsManifest: each shard is one file`);
    seen.add(resolved(path));
  }
  for (const path of paths) {
    const inside = paths.find((other) => resolved(other).startsWith(`${resolved(path)}/`));
    if (inside) throw new BadRequestError(`model.json: weight path ${JSON.stringify(path)} is a file and the folder of ${JSON.stringify(inside)}: a path cannot be both`);
  }
}
