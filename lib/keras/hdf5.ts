/**
 * HDF5 files read with h5wasm (the HDF Group's C library compiled to WebAssembly): the bytes are
 * written to h5wasm's in-memory file system, opened, walked into plain objects, and removed.
 * h5wasm (4 MB: the library's wasm is inlined) is imported when a file is first read, so a
 * function's start-up does not compile it.
 */
import { BadRequestError } from '../errors.js';

export interface H5Dataset {
  shape: number[];
  dtype: string;
  value: unknown;
}

export interface H5Group {
  attrs: Record<string, unknown>;
  groups: Map<string, H5Group>;
  datasets: Map<string, H5Dataset>;
}

type Node = {
  type: string;
  keys?: () => string[];
  attrs?: Record<string, { json_value: unknown }>;
  get?: (name: string) => unknown;
  shape?: number[] | null;
  dtype?: unknown;
  value?: unknown;
};

function walk(node: Node): H5Group {
  const group: H5Group = { attrs: {}, groups: new Map(), datasets: new Map() };
  for (const [name, attr] of Object.entries(node.attrs ?? {})) group.attrs[name] = attr.json_value;
  for (const key of node.keys?.() ?? []) {
    const child = node.get?.(key) as Node | null | undefined;
    if (!child) continue;
    if (child.type === 'Group') group.groups.set(key, walk(child));
    else if (child.type === 'Dataset') group.datasets.set(key, { shape: child.shape ?? [], dtype: String(child.dtype), value: child.value });
  }
  return group;
}

let files = 0;

/** The whole file as a tree (weights included: a Keras file is read in full anyway). */
export async function readHdf5(bytes: Uint8Array, what: string): Promise<H5Group> {
  const { default: h5wasm } = await import('h5wasm');
  const { FS } = await h5wasm.ready;
  files += 1;
  const name = `/import-${process.pid}-${files}.h5`;
  // Owned, not copied: h5wasm's in-memory file system keeps these bytes as the file's content (it is
  // opened read-only), so a large weights file is held once here rather than twice. Emscripten's
  // FS.writeFile takes the option; h5wasm's types do not list it.
  FS.writeFile(name, bytes, { canOwn: true } as never);
  try {
    let file: InstanceType<typeof import('h5wasm')['default']['File']>;
    try {
      file = new h5wasm.File(name, 'r');
    } catch (error) {
      throw new BadRequestError(`${what} cannot be read as HDF5 (damaged or truncated?): ${(error as Error).message}`);
    }
    try {
      return walk(file as unknown as Node);
    } catch (error) {
      throw new BadRequestError(`${what}: reading its HDF5 content failed (damaged or truncated?): ${(error as Error).message}`);
    } finally {
      file.close();
    }
  } finally {
    FS.unlink(name);
  }
}
