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

/** The innermost entry of an HDF5 error stack ("#006: .../H5Fsuper.c line 577 in H5F__super_read(): truncated file: ..."): its message. */
function innermost(stack: string): string {
  const entries = [...stack.matchAll(/#\d+: .* in [\w.]+\(\): (.*)$/gm)];
  return entries.length > 0 ? entries[entries.length - 1][1].trim() : stack.trim().replace(/\s*\n\s*/g, ' ');
}

let files = 0;

/** The whole file as a tree (weights included: a Keras file is read in full anyway). */
export async function readHdf5(bytes: Uint8Array, what: string): Promise<H5Group> {
  const { default: h5wasm } = await import('h5wasm');
  const library = await h5wasm.ready;
  const { FS } = library;
  files += 1;
  const name = `/import-${process.pid}-${files}.h5`;
  // Owned, not copied: h5wasm's in-memory file system keeps these bytes as the file's content (it is
  // opened read-only), so a large weights file is held once here rather than twice. Emscripten's
  // FS.writeFile takes the option; h5wasm's types do not list it.
  FS.writeFile(name, bytes, { canOwn: true } as never);
  try {
    let file: InstanceType<typeof import('h5wasm')['default']['File']>;
    // HDF5's default error handler prints its error stack to stderr (40 lines for a truncated file,
    // before modelctl's one) and the open "succeeds" with a bad id that fails later with "name not
    // defined!". h5wasm's throwing handler makes the open itself throw that stack instead: its last
    // entry says what is wrong. Only around the open: elsewhere h5wasm may probe and expect failures.
    library.activate_throwing_error_handler();
    try {
      file = new h5wasm.File(name, 'r');
    } catch (error) {
      throw new BadRequestError(`${what} cannot be read as HDF5 (damaged or truncated?): ${innermost((error as Error).message)}`);
    } finally {
      library.deactivate_throwing_error_handler();
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
