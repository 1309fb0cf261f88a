/**
 * Size of a function's deployment zip, made the way `serverless package` makes it: osls 4.3.1
 * zips with yazl (deflate, zlib's default level). yazl is installed as osls' dependency and ships
 * no types, hence the small interface below.
 */
import { createRequire } from 'node:module';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface YazlZipFile {
  addBuffer(buffer: Buffer, name: string, options?: { mtime?: Date; mode?: number; compress?: boolean }): void;
  end(): void;
  outputStream: NodeJS.ReadableStream;
}

const yazl = createRequire(import.meta.url)('yazl') as { ZipFile: new () => YazlZipFile };

/** What the functions' `package.patterns` in serverless.yml leave out of dist/<fn>/. */
export function isPackaged(file: string): boolean {
  return file !== 'meta.json' && !file.endsWith('.map');
}

/** Bytes of the zip of dir's packaged files, stored under `prefix/` (e.g. dist/predict). */
export async function zipBytes(dir: string, prefix: string): Promise<{ bytes: number; files: string[] }> {
  const files = (await readdir(dir)).filter(isPackaged).sort();
  const zip = new yazl.ZipFile();
  // A fixed mtime: the size must not depend on when the bench runs.
  const mtime = new Date('2020-01-01T00:00:00Z');
  for (const file of files) zip.addBuffer(await readFile(path.join(dir, file)), `${prefix}/${file}`, { mtime, mode: 0o644 });
  zip.end();
  let bytes = 0;
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) bytes += chunk.length;
  return { bytes, files };
}
