/**
 * HTTP content codings as this service reads and writes them: gzip (x-gzip is its old name, which
 * HTTP still asks recipients to accept) and deflate. One place for the names, so the request side
 * (contentEncoding.ts, request.ts) and the answer side (compression.ts) agree on them.
 */
export type Coding = 'gzip' | 'deflate';

/** The coding each accepted name stands for; identity is no coding at all. */
const NAMES: Record<string, Coding | 'identity'> = { gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate', identity: 'identity' };

/** The coding a name stands for (any case), identity, or undefined for one not read here (br, compress, ...). */
export const codingNamed = (name: string): Coding | 'identity' | undefined => (Object.hasOwn(NAMES, name.toLowerCase()) ? NAMES[name.toLowerCase()] : undefined);

/** The names a Content-Encoding header lists, lower-cased, in its order (first applied first), identity left out. */
export function listedCodings(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'identity');
}

/** The other names of `coding` (x-gzip for gzip), for an Accept-Encoding that lists only those. */
export const aliasesOf = (coding: Coding): string[] => Object.keys(NAMES).filter((name) => name !== coding && NAMES[name] === coding);
