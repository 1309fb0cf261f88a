/**
 * A client of the OIP binary tensor data extension, written from the extension's text alone (not
 * from lib/protocol/binaryData.ts), as Triton's or KServe's clients would send and read it.
 */
export interface BinaryInput {
  name: string;
  shape: number[];
  datatype: string;
  /** Numbers for numeric types, booleans for BOOL, strings or byte arrays for BYTES. */
  values: ArrayLike<number | boolean | bigint | string | Uint8Array>;
}

function elementBytes(datatype: string, values: BinaryInput['values']): Uint8Array {
  const n = values.length;
  const arrays: Record<string, () => ArrayBufferView> = {
    FP32: () => Float32Array.from(values as ArrayLike<number>),
    FP64: () => Float64Array.from(values as ArrayLike<number>),
    INT32: () => Int32Array.from(values as ArrayLike<number>),
    INT16: () => Int16Array.from(values as ArrayLike<number>),
    INT8: () => Int8Array.from(values as ArrayLike<number>),
    UINT8: () => Uint8Array.from(values as ArrayLike<number>),
    UINT16: () => Uint16Array.from(values as ArrayLike<number>),
    UINT32: () => Uint32Array.from(values as ArrayLike<number>),
    INT64: () => BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(v)),
    UINT64: () => BigUint64Array.from(values as ArrayLike<number>, (v) => BigInt(v)),
    BOOL: () => Uint8Array.from(values as ArrayLike<boolean>, (v) => (v ? 1 : 0)),
    FP16: () => {
      // float -> half, round to nearest (exact for the values tests send)
      const out = new Uint16Array(n);
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      for (let i = 0; i < n; i++) {
        f[0] = values[i] as number;
        const x = u[0];
        const sign = (x >>> 16) & 0x8000;
        const exp = ((x >>> 23) & 0xff) - 127 + 15;
        const mant = (x >>> 13) & 0x3ff;
        out[i] = exp <= 0 ? sign : exp >= 31 ? sign | 0x7c00 : sign | (exp << 10) | mant;
      }
      return out;
    },
  };
  if (datatype === 'BYTES') {
    const parts = Array.from(values as ArrayLike<string | Uint8Array>, (v) => (typeof v === 'string' ? new TextEncoder().encode(v) : v));
    const out = new Uint8Array(parts.reduce((s, p) => s + 4 + p.length, 0));
    let at = 0;
    for (const p of parts) {
      new DataView(out.buffer).setUint32(at, p.length, true);
      out.set(p, at + 4);
      at += 4 + p.length;
    }
    return out;
  }
  const view = arrays[datatype]();
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** The request body and its Inference-Header-Content-Length. */
export function binaryRequest(inputs: BinaryInput[], extra: Record<string, unknown> = {}): { body: Uint8Array; headerLength: number } {
  const blobs = inputs.map((i) => elementBytes(i.datatype, i.values));
  const header = new TextEncoder().encode(
    JSON.stringify({
      ...extra,
      inputs: inputs.map((input, k) => ({ name: input.name, shape: input.shape, datatype: input.datatype, parameters: { binary_data_size: blobs[k].length } })),
    }),
  );
  const body = new Uint8Array(header.length + blobs.reduce((s, b) => s + b.length, 0));
  body.set(header);
  let at = header.length;
  for (const b of blobs) {
    body.set(b, at);
    at += b.length;
  }
  return { body, headerLength: header.length };
}

export interface DecodedOutput {
  name: string;
  shape: number[];
  datatype: string;
  data: (number | string | boolean)[];
}

/** A response: its JSON header, and each output's values whether they came as JSON or binary. */
export function readBinaryResponse(body: Uint8Array, headerLength: number): { header: Record<string, unknown>; outputs: DecodedOutput[] } {
  const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength))) as { outputs: (DecodedOutput & { parameters?: { binary_data_size?: number } })[] };
  let at = headerLength;
  const outputs = header.outputs.map((o) => {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) return o;
    const bytes = body.slice(at, at + size);
    at += size;
    let data: (number | string | boolean)[];
    if (o.datatype === 'FP32') data = Array.from(new Float32Array(bytes.buffer));
    else if (o.datatype === 'INT32') data = Array.from(new Int32Array(bytes.buffer));
    else if (o.datatype === 'BOOL') data = Array.from(bytes, (b) => b !== 0);
    else if (o.datatype === 'BYTES') {
      data = [];
      const view = new DataView(bytes.buffer);
      for (let p = 0; p < bytes.length; ) {
        const n = view.getUint32(p, true);
        data.push(new TextDecoder().decode(bytes.subarray(p + 4, p + 4 + n)));
        p += 4 + n;
      }
    } else throw new Error(`unexpected binary output datatype ${o.datatype}`);
    return { name: o.name, shape: o.shape, datatype: o.datatype, data };
  });
  if (at !== body.length) throw new Error(`${body.length - at} bytes left after the binary outputs`);
  return { header, outputs };
}
