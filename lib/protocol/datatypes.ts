/**
 * Open Inference Protocol datatypes and TF.js dtypes, as data (as MLServer's numpy codec keeps them).
 * TF.js computes in float32/int32/bool/string, so wider or narrower wire types map onto those;
 * the inverse table is derived, not written twice.
 */
import type { DataType } from '@tensorflow/tfjs-core';

export const OIP_TO_TF = {
  BOOL: 'bool',
  UINT8: 'int32',
  UINT16: 'int32',
  UINT32: 'int32',
  UINT64: 'int32',
  INT8: 'int32',
  INT16: 'int32',
  INT32: 'int32',
  INT64: 'int32',
  FP16: 'float32',
  FP32: 'float32',
  FP64: 'float32',
  BYTES: 'string',
} as const satisfies Record<string, DataType>;

export type OipDatatype = keyof typeof OIP_TO_TF;

/**
 * The values each integer type holds, within int32 (what TF.js computes in): a JSON value outside
 * its declared type is refused, as the binary form cannot even carry it.
 */
export const INTEGER_RANGES: Partial<Record<OipDatatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [-(2 ** 31), 2 ** 31 - 1],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 2 ** 31 - 1],
  UINT64: [0, 2 ** 31 - 1],
};
export const OIP_DATATYPES = Object.keys(OIP_TO_TF) as OipDatatype[];

/** The canonical wire type for each TF.js dtype: the first OIP type that maps onto it exactly. */
const CANONICAL: Partial<Record<DataType, OipDatatype>> = { bool: 'BOOL', int32: 'INT32', float32: 'FP32', string: 'BYTES' };

export const TF_TO_OIP: Record<string, OipDatatype> = Object.fromEntries(
  (Object.entries(OIP_TO_TF) as [OipDatatype, DataType][]).filter(([oip, tf]) => CANONICAL[tf] === oip).map(([oip, tf]) => [tf, oip]),
);

export function oipDatatypeOf(dtype: string): OipDatatype {
  return TF_TO_OIP[dtype] ?? 'FP32';
}

/**
 * A model input's datatype as clients send it: a narrower integer the model declares (handtrack's
 * uint8) by its own name, though TF.js holds it as int32; else its dtype's.
 */
export function declaredDatatypeOf(spec: { dtype: string; declaredDtype?: string }): OipDatatype {
  return spec.declaredDtype === undefined ? oipDatatypeOf(spec.dtype) : (spec.declaredDtype.toUpperCase() as OipDatatype);
}

/**
 * A tensor's values as an output's JSON `data`: BOOL as true and false, as the protocol's JSON has
 * them (a bool tensor's values are read as the bytes 1 and 0).
 */
export function jsonData(datatype: string, data: ArrayLike<unknown>): unknown[] {
  return datatype === 'BOOL' ? Array.from(data, (v) => Boolean(v)) : Array.from(data);
}
